/** cli: the commands (parse, call a dependency, render); the only writer to stdout. */
export { buildProgram } from './program.js';
export type { CliDeps } from './deps.js';
export { exitCodeFor } from './errors.js';
export { parseSimOptions, renderSimReport } from './sim.js';
