/**
 * `murmur` from the TypeScript sources, for the fuzz harness's live Supervisors (`live.ts`, run
 * as `node --import tsx test/fuzz/sup-main.ts sup run …`): the same `main` as `bin/murmur`, without
 * a build, so that `npm test` fuzzes the code as it is now.
 */
import { main } from '../../src/app/main.js';

process.exitCode = await main(process.argv);
