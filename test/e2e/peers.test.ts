/**
 * Seed peers, with real Supervisors: a peer that is down at start is retried until it answers
 * (Habitat gives up early, #7510), and a peer watch file is re-read when it changes.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, test } from 'vitest';
import { healthOf, kill9, newFsRoot, startSup, stopAll, waitFor } from './supervisors.js';

afterAll(stopAll);

describe('seed peers', () => {
  test('a seed that is down at start is retried until it is reached', async () => {
    // Learn a free port for the seed, then take the seed down before the joiner starts.
    const seed = await startSup({ host: '127.0.0.81' });
    const port = seed.gossip.split(':')[1]!;
    await kill9(seed);
    const joiner = await startSup({ host: '127.0.0.82', peers: [seed.gossip] });
    await new Promise((r) => setTimeout(r, 1500)); // a few join attempts go unanswered
    const back = await startSup({ host: '127.0.0.81', gossipPort: Number(port), fsRoot: seed.fsRoot });
    await waitFor('the joiner and the seed to see each other alive', async () => (await healthOf(joiner, back)) === 'Alive' && (await healthOf(back, joiner)) === 'Alive');
  });

  test('a peer watch file is re-read when it changes', async () => {
    const a = await startSup({ host: '127.0.0.83' });
    const dir = await newFsRoot();
    const file = join(dir, 'peers');
    await writeFile(file, '# nobody yet\n');
    const b = await startSup({ host: '127.0.0.84', args: ['--peer-watch-file', file] });
    await writeFile(file, `# the first member\n${a.gossip}\n`);
    await waitFor('the two to meet through the watch file', async () => (await healthOf(a, b)) === 'Alive' && (await healthOf(b, a)) === 'Alive');
  });
});
