/**
 * Ring key rotation on seven hosts under traffic (docs/security.md "Ring key rotation"): seven
 * Supervisors in seven network namespaces (test/lab/lab.ts) run ring `prod` (revision OLD), each
 * with its own key cache; an eighth host is kept for an outsider. While a config version of
 * `demo.prod` is applied every 100 ms and a file of a new name uploaded every 500 ms (through
 * host 1's control gateway, test/lab/traffic.ts), the operator, with its own key cache, runs
 * `hab ring key install prod` on host 1, `hab ring key list` until NEW is held by 7 of 7,
 * `hab ring key use NEW` on host 4 and `hab ring key remove OLD` on host 7.
 *
 * Asserted: no member is confirmed or departed by anyone during the rotation (the Supervisors'
 * own `member …` log lines, and /butterfly polled on every host); no packet fails to open; every
 * file and every config version reaches every member (`config received` lines); afterwards the
 * ring is whole, seals with NEW only, and a Supervisor holding only OLD cannot join it. The
 * timings (install → 7/7, the whole rotation) are printed, never asserted.
 *
 * Run by `npm run test:lab -- test/lab/rotation.test.ts` (root). Under `npm test` it skips
 * (MURMUR_LAB is unset). Every wait is bounded; the lab is torn down whatever happens.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, onTestFailed, test } from 'vitest';
import { Lab, mapLimit, monoMs, PORTS, REPO_ROOT, run, sleep, waitFor, type ButterflyView, type LabCounters, type LabProcess } from './lab.js';

const enabled = process.env.MURMUR_LAB === '1';

const HAB = join(REPO_ROOT, 'bin', 'hab');
const RING = [1, 2, 3, 4, 5, 6, 7];
const OUTSIDER = 8;
const GROUP = 'demo.prod';
const PRESET = { MURMUR_GOSSIP_PRESET: 'localTest' };
const RING_ARGS = ['--ring', 'prod'];

interface Listed {
  id: string;
  state: string;
  holders: number;
  live: number;
  sealers: number;
}

interface ServiceFileView {
  service_file: { list: Record<string, Record<string, { incarnation: number }> | undefined> };
}

describe.skipIf(!enabled)('ring key rotation on seven hosts under traffic', () => {
  let lab: Lab;
  let before: LabCounters;
  let failed = false;
  /** The operator's key cache, outside every host's. */
  let ops = '';
  let oldKey = '';
  let newKey = '';

  function fsRoot(i: number): string {
    return join(lab.dir(i), 'fs');
  }

  async function hab(args: string[], env: Record<string, string>, input?: string): Promise<string> {
    const r = await run(process.execPath, [HAB, ...args], { env: { ...process.env, ...env }, ...(input === undefined ? {} : { input }) });
    if (r.code !== 0) throw new Error(`hab ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  /** `hab ring key ARGS` run in host i against its Supervisor, as the operator. */
  async function ringKey(i: number, args: string[]): Promise<string> {
    const r = await lab.ctl(i, ['ring', 'key', ...args], { env: { HAB_CACHE_KEY_PATH: ops } });
    if (r.code !== 0) throw new Error(`hab ring key ${args.join(' ')} on host ${i} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  async function list(i: number): Promise<Record<string, Listed>> {
    const out: Record<string, Listed> = {};
    for (const line of (await ringKey(i, ['list'])).split('\n').filter((l) => l !== '')) {
      const m = /^(\S+) {2}(\S+) {2}(\S+)\s+(\d+)\/(\d+) live members, (\d+) sealing$/.exec(line);
      if (!m) throw new Error(`unexpected line of hab ring key list: ${JSON.stringify(line)}`);
      out[m[1] as string] = { id: m[2] as string, state: m[3] as string, holders: Number(m[4]), live: Number(m[5]), sealers: Number(m[6]) };
    }
    return out;
  }

  /** GET from host i, by curl inside host i: its HTTP gateway, or (`ctl`) its control gateway with its secret. */
  async function getJson<T>(i: number, path: string, gateway: 'http' | 'ctl' = 'http'): Promise<T> {
    const url = gateway === 'http' ? `http://${lab.ip(i)}:${PORTS.http}${path}` : `http://127.0.0.1:${PORTS.ctl}${path}`;
    const auth = gateway === 'ctl' ? ['-H', `Authorization: Bearer ${readFileSync(join(fsRoot(i), 'hab/sup/default/CTL_SECRET'), 'utf8').trim()}`] : [];
    const r = await lab.exec(i, 'curl', ['-sS', '--max-time', '5', ...auth, url], { timeoutMs: 7000 });
    if (r.code !== 0) throw new Error(`curl ${path} of host ${i} failed (exit ${r.code}): ${r.stderr.trim()}`);
    return (path === '/metrics' ? r.stdout : JSON.parse(r.stdout)) as T;
  }

  /** The ids of the keys host i opens with, the one that seals first. */
  async function sealing(i: number): Promise<string[]> {
    return (await getJson<{ ring_keys: string[] }>(i, '/v1/sup/status', 'ctl')).ring_keys;
  }

  async function openErrors(i: number): Promise<number> {
    return Number(/^hab_butterfly_open_errors_total (\d+)$/m.exec(await getJson<string>(i, '/metrics'))?.[1] ?? NaN);
  }

  async function everyoneSeesAlive(observers: number[], subjects: number[]): Promise<boolean> {
    const views = await mapLimit(observers, 7, (o) => lab.butterfly(o));
    return views.every((v) => subjects.every((s) => v.membership[lab.supervisor(s).id]?.health === 'Alive'));
  }

  /** Key text of `label` in the operator's cache. */
  function keyText(label: string): string {
    return readFileSync(join(ops, `${label}.sym.key`), 'utf8');
  }

  async function importInto(root: string, text: string): Promise<void> {
    await hab(['ring', 'key', 'import'], { FS_ROOT: root }, text);
  }

  async function generate(): Promise<string> {
    const out = await waitFor('a new revision of ring key prod', () => hab(['ring', 'key', 'generate', 'prod'], { HAB_CACHE_KEY_PATH: ops }).catch(() => undefined), 5000, 300);
    return /Generated ring key (prod-\d{14})/.exec(out)?.[1] ?? '';
  }

  beforeAll(async () => {
    ops = mkdtempSync(join(tmpdir(), 'murmur-lab-operator-keys-'));
    oldKey = await generate();
    lab = await Lab.create({ hosts: RING.length + 1 });
    before = await lab.counters();
    for (const i of [...RING, OUTSIDER]) await importInto(fsRoot(i), keyText(oldKey));
    await lab.startSupervisor(1, { env: PRESET, args: RING_ARGS });
    await Promise.all(RING.slice(1).map((i) => lab.startSupervisor(i, { peers: [1], env: PRESET, args: RING_ARGS })));
    await waitFor('seven Supervisors to see each other alive', () => everyoneSeesAlive(RING, RING), 60_000, 500);
  }, 120_000);

  afterAll(async () => {
    rmSync(ops, { recursive: true, force: true });
    if (!lab) return;
    try {
      // Recorded with every run, so that a lab artifact is never read as a protocol result.
      await lab.report(before, failed);
    } finally {
      await lab.destroy();
    }
  });

  test('install, list until 7/7, use, remove: no member lost, every rumor delivered, no packet refused', async () => {
    onTestFailed(() => void (failed = true));
    const errorsBefore = await mapLimit(RING, 7, openErrors);

    // Traffic through host 1's control gateway, and every member's view of every other polled.
    const traffic: LabProcess = lab.spawn(1, 'traffic', process.execPath, ['--import', 'tsx', 'test/lab/traffic.ts', '--secret-file', join(fsRoot(1), 'hab/sup/default/CTL_SECRET'), '--group', GROUP, '--config-every', '100', '--file-every', '500'], {
      logFile: join(lab.dir(1), 'traffic.log'),
    });
    const tTraffic = monoMs();
    const unhealthy: string[] = [];
    let polls = 0;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const views = await mapLimit(RING, 7, (o) => lab.butterfly(o).catch((err: unknown) => err as Error));
        polls++;
        for (const [k, v] of views.entries()) {
          if (v instanceof Error) {
            unhealthy.push(`host ${k + 1}: ${v.message}`);
            continue;
          }
          for (const s of RING) if (v.membership[lab.supervisor(s).id]?.health !== 'Alive') unhealthy.push(`host ${k + 1} saw host ${s} ${v.membership[lab.supervisor(s).id]?.health ?? 'absent'}`);
        }
        await sleep(300);
      }
    })();
    await traffic.waitForLine(/^config \d+ ok$/, 30_000);
    await traffic.waitForLine(/^file \S+ ok$/, 30_000);
    await sleep(2000);

    // The rotation, as an operator would run it.
    newKey = await generate();
    const t0 = monoMs();
    expect(await ringKey(1, ['install', 'prod'])).toMatch(new RegExp(`^Installing ring key ${newKey} `));
    await waitFor(`host 1 to list ${newKey} held by 7 of 7`, async () => {
      const k = (await list(1))[newKey];
      return k?.holders === 7 && k.live === 7;
    }, 60_000, 100);
    const t7 = monoMs();
    const lists = await mapLimit(RING, 2, list);
    for (const [k, l] of lists.entries()) {
      expect(l[newKey], `host ${k + 1}`).toMatchObject({ state: 'installed', holders: 7, live: 7 });
      expect(l[oldKey], `host ${k + 1}`).toMatchObject({ state: 'primary', holders: 7, live: 7 });
    }
    const newId = lists[0]?.[newKey]?.id ?? '';
    const tUse = monoMs();
    expect(await ringKey(4, ['use', newKey])).toMatch(new RegExp(`^Using ring key ${newKey} .* primary +7/7 live members`));
    await waitFor('every host to seal with NEW', async () => (await mapLimit(RING, 7, sealing)).every((ids) => ids[0] === newId), 30_000, 100);
    const tUsed = monoMs();
    await waitFor('host 7 to list OLD sealed with by none', async () => (await list(7))[oldKey]?.sealers === 0, 30_000, 100);
    expect(await ringKey(7, ['remove', oldKey])).toMatch(new RegExp(`^Removing ring key ${oldKey} .* removed`));
    await waitFor('every host to hold NEW only', async () => (await mapLimit(RING, 7, sealing)).every((ids) => ids.length === 1 && ids[0] === newId), 30_000, 100);
    const tDone = monoMs();

    // Traffic goes on a little after the rotation, then stops.
    await sleep(2000);
    traffic.child.kill('SIGTERM');
    const summary = await traffic.waitForLine(/^done configs=(\d+) files=(\d+) errors=(\d+)$/, 15_000);
    await traffic.exited;
    polling = false;
    await poller;
    const tEnd = monoMs();
    /**
     * From the first host to log `phrase` about `key` to the last: the spread by gossip alone. The
     * lines are stamped when this process reads them, so a loaded machine blurs it by tens of ms.
     */
    const spread = (phrase: string, key: string): string => {
      const at = RING.map((i) => lab.supervisor(i).proc.lines.find((l) => l.text.includes(phrase) && l.text.includes(`key=${key}`))?.t);
      if (at.some((t) => t === undefined)) return `not logged by every host`;
      const times = at as number[];
      return `${(Math.max(...times) - Math.min(...times)).toFixed(0)} ms`;
    };
    console.log(
      `lab ${lab.id}: spread by gossip, first to last host's log line as read here: install ${spread('installed a ring key', newKey)}, use ${spread('sealing with a new ring key', newKey)}, remove ${spread('removed a ring key', oldKey)}`,
    );
    console.log(
      `lab ${lab.id}: install → 7/7 listed ${(t7 - t0).toFixed(0)} ms; use → all 7 sealing with it ${(tUsed - tUse).toFixed(0)} ms; ` +
        `remove → all 7 dropped it ${(tDone - tUsed).toFixed(0)} ms; whole rotation (install to all dropped, CLI included) ${(tDone - t0).toFixed(0)} ms; ` +
        `traffic ${summary.match[1]} configs, ${summary.match[2]} files over ${((tEnd - tTraffic) / 1000).toFixed(1)} s; ${polls} polls of 7 views`,
    );

    // No member was suspected for long enough to be confirmed, or departed, by anyone.
    const events = RING.flatMap((i) =>
      lab.supervisor(i).proc.lines.filter((l) => l.t >= tTraffic && /member (suspect|confirmed|departed)/.test(l.text)).map((l) => `host ${i} at install ${l.t >= t0 ? '+' : ''}${(l.t - t0).toFixed(0)} ms: ${l.text}`),
    );
    expect(events.filter((e) => /member (confirmed|departed)/.test(e))).toEqual([]);
    expect(unhealthy.filter((u) => /Confirmed|Departed|absent/.test(u))).toEqual([]);
    // A suspicion refuted in time is not asserted against: on a loaded two-core machine an 80 ms
    // probe timeout (localTest) can lapse whatever the keys do. It is printed, with the steps' times.
    if (events.length > 0 || unhealthy.length > 0) {
      const steps = `use at +${(tUse - t0).toFixed(0)} ms, remove at +${(tUsed - t0).toFixed(0)} ms`;
      console.log(`lab ${lab.id}: transient suspicions (${steps}):\n  ${[...events, ...unhealthy].join('\n  ')}`);
    }
    // No packet failed to open anywhere: nobody ever sealed with a key a receiver lacked.
    const errorsAfter = await mapLimit(RING, 7, openErrors);
    expect(errorsAfter).toEqual(errorsBefore);

    // Every request was accepted, and every rumor reached every member.
    expect(Number(summary.match[3])).toBe(0);
    const files = traffic.lines.map((l) => /^file (\S+) ok$/.exec(l.text)?.[1]).filter((f): f is string => f !== undefined);
    const versions = traffic.lines.map((l) => /^config (\d+) ok$/.exec(l.text)?.[1]).filter((v): v is string => v !== undefined).map(Number);
    expect(files.length).toBeGreaterThan(10);
    expect(versions.length).toBeGreaterThan(50);
    const last = Math.max(...versions);
    await waitFor('every host to hold every file and the last config version', async () => {
      const views = await mapLimit(RING, 7, (i) => lab.butterfly(i));
      return views.every((v) => {
        const held = (v as ButterflyView & ServiceFileView).service_file.list[GROUP] ?? {};
        return v.latest_service_config[GROUP]?.incarnation === last && files.every((f) => f in held);
      });
    }, 30_000, 500);
    for (const i of RING.slice(1)) {
      const received = new Set(lab.supervisor(i).proc.lines.map((l) => new RegExp(`config received group=${GROUP.replace('.', '\\.')} version=(\\d+) `).exec(l.text)?.[1]).filter((v) => v !== undefined).map(Number));
      const missed = versions.filter((v) => !received.has(v));
      expect(missed, `config versions host ${i} never logged as received`).toEqual([]);
    }
  }, 180_000);

  test('afterwards the ring is whole and seals with NEW: a Supervisor holding only OLD cannot join', async () => {
    onTestFailed(() => void (failed = true));
    expect(await everyoneSeesAlive(RING, RING)).toBe(true);
    const keys = await list(1);
    expect(keys[newKey]).toMatchObject({ state: 'primary', holders: 7, live: 7 });
    expect(keys[oldKey]).toMatchObject({ state: 'removed', holders: 0, live: 7 });

    const refused = await openErrors(1);
    const outsider = await lab.startSupervisor(OUTSIDER, { peers: [1], env: PRESET, args: RING_ARGS });
    await waitFor('host 1 to refuse the OLD-only Supervisor\'s packets', async () => (await openErrors(1)) > refused, 30_000, 300);
    await waitFor('host 1 to say why', () => lab.supervisor(1).proc.lines.some((l) => l.text.includes(`dropped a packet that does not open with the ring key from=${lab.ip(OUTSIDER)} reason=unknown-key`)), 10_000);
    // It has tried (host 1 refused its joins) and knows nobody: no member answered it.
    expect(Object.keys((await lab.butterfly(OUTSIDER)).membership)).toEqual([outsider.id]);
    const views = await mapLimit(RING, 7, (i) => lab.butterfly(i));
    for (const [k, v] of views.entries()) expect(v.membership[outsider.id], `host ${k + 1}`).toBeUndefined();
    expect(await everyoneSeesAlive(RING, RING)).toBe(true);
  });
});
