/** core: the vocabulary every layer shares. No I/O here. */
export * from './clock.js';
export * from './random.js';
export * from './logger.js';
export * from './ids.js';
export * from './errors.js';
export * from './ip.js';
