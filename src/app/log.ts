/**
 * The Supervisor's log as Habitat prints it: one line per event on stdout, prefixed with the
 * component (`hab-sup(MR): member joined member=3f2a…`). Fields follow as key=value.
 */
import type { LogFields, Logger } from '../core/index.js';

export function lineLogger(write: (line: string) => void, bindings: LogFields = {}): Logger {
  // A child may name its own preamble and log key: a service's lines read `redis.prod(SR): …`.
  const preamble = typeof bindings.preamble === 'string' ? bindings.preamble : 'hab-sup';
  const logkey = typeof bindings.logkey === 'string' ? bindings.logkey : 'MR';
  const line = (level: string, msg: string, fields?: LogFields): void => {
    const all = { ...bindings, ...fields };
    const tail = Object.entries(all)
      .filter(([k]) => k !== 'component' && k !== 'preamble' && k !== 'logkey')
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    const tag = level === 'info' ? logkey : level.toUpperCase();
    write(`${preamble}(${tag}): ${msg}${tail ? ` ${tail}` : ''}`);
  };
  return {
    debug: (msg, fields) => {
      if (process.env.MURMUR_DEBUG) line('debug', msg, fields);
    },
    info: (msg, fields) => line('info', msg, fields),
    warn: (msg, fields) => line('warn', msg, fields),
    error: (msg, fields) => line('error', msg, fields),
    child: (more) => lineLogger(write, { ...bindings, ...more }),
  };
}
