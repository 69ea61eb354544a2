/**
 * Steady operator traffic for a lab test, run inside a lab host (`ip netns exec … node --import
 * tsx test/lab/traffic.ts`): through that host's control gateway, with the client `hab config
 * apply` and `hab file upload` use (`CtlClient`), a config version every `--config-every` ms and a
 * file of its own name every `--file-every` ms, until SIGTERM. One process rather than a `hab`
 * process per request: at ten requests a second, starting Node each time would take more CPU than
 * a two-core machine has, and starve the Supervisors under test.
 *
 * Prints one line per request (`config 12 ok`, `file rot-3.txt ok`, `config 13 error …`) and, at
 * SIGTERM, `done configs=N files=M errors=E` before it exits 0.
 *
 *   node --import tsx test/lab/traffic.ts --ctl 127.0.0.1:9632 --secret-file F --group demo.prod \
 *     [--config-every 100] [--file-every 500] [--file-prefix rot-]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CtlClient } from '../../src/ctl/client.js';

const { values } = parseArgs({
  options: {
    ctl: { type: 'string', default: '127.0.0.1:9632' },
    'secret-file': { type: 'string' },
    group: { type: 'string', default: 'demo.prod' },
    'config-every': { type: 'string', default: '100' },
    'file-every': { type: 'string', default: '500' },
    'file-prefix': { type: 'string', default: 'rot-' },
  },
});
if (values['secret-file'] === undefined) throw new Error('--secret-file is required');
const client = new CtlClient({ address: values.ctl, secret: readFileSync(values['secret-file'], 'utf8').trim(), timeoutMs: 10_000 });
const group = values.group;
let stopping = false;
const count = { configs: 0, files: 0, errors: 0 };

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Runs `once` every `everyMs` (at once again if one took longer), until SIGTERM. */
async function every(everyMs: number, once: () => Promise<void>): Promise<void> {
  while (!stopping) {
    const started = Date.now();
    await once();
    const rest = everyMs - (Date.now() - started);
    if (rest > 0 && !stopping) await new Promise((r) => setTimeout(r, rest));
  }
}

async function configs(): Promise<void> {
  let version = 0;
  await every(Number(values['config-every']), async () => {
    version++;
    try {
      await client.applyConfig(group, version, `version = ${version}\nport = ${6000 + (version % 1000)}\n`);
      count.configs++;
      say(`config ${version} ok`);
    } catch (err) {
      count.errors++;
      say(`config ${version} error ${(err as Error).message}`);
    }
  });
}

async function files(): Promise<void> {
  let k = 0;
  await every(Number(values['file-every']), async () => {
    k++;
    const name = `${values['file-prefix']}${k}.txt`;
    try {
      await client.uploadFile(group, 1, name, new TextEncoder().encode(`file ${k}\n`));
      count.files++;
      say(`file ${name} ok`);
    } catch (err) {
      count.errors++;
      say(`file ${name} error ${(err as Error).message}`);
    }
  });
}

process.once('SIGTERM', () => void (stopping = true));
say('traffic started');
await Promise.all([configs(), files()]);
say(`done configs=${count.configs} files=${count.files} errors=${count.errors}`);
