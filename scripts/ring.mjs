#!/usr/bin/env node
// A real gossip ring on this machine: N Supervisors (`murmur sup run`), one per loopback address
// 127.0.0.2, 127.0.0.3, … with Habitat's default ports and their own FS_ROOT under
// /tmp/murmur-ring. It prints what each Supervisor sees, then stops them all gracefully on
// Ctrl-C or after --minutes (default 10).
//
//   scripts/ring.mjs [--members N] [--minutes M]
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const members = arg('--members', 3);
const minutes = arg('--minutes', 10);
if (!(Number.isInteger(members) && members >= 1 && members <= 50)) {
  console.error('--members must be an integer from 1 to 50');
  process.exit(2);
}
const bin = fileURLToPath(new URL('../bin/murmur', import.meta.url));
const children = [];
for (let i = 0; i < members; i++) {
  const host = `127.0.0.${i + 2}`;
  const fsRoot = `/tmp/murmur-ring/${host}`;
  mkdirSync(fsRoot, { recursive: true });
  const args = ['sup', 'run', '--listen-gossip', `${host}:9638`, '--listen-http', `${host}:9631`, '--listen-ctl', `${host}:9632`];
  if (i > 0) args.push('--peer', '127.0.0.2');
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, FS_ROOT: fsRoot }, stdio: ['ignore', 'pipe', 'pipe'] });
  const tag = `[${host}] `;
  for (const s of [child.stdout, child.stderr]) s.on('data', (d) => process.stdout.write(d.toString().replace(/^(?=.)/gm, tag)));
  child.on('exit', (code) => console.log(`${tag}exited with ${code}`));
  children.push({ host, child });
}

async function show() {
  for (const { host } of children) {
    try {
      const b = await (await fetch(`http://${host}:9631/butterfly`)).json();
      const view = Object.entries(b.membership).map(([id, m]) => `${id.slice(0, 8)}@${m.address}=${m.health}`);
      console.log(`${host} sees ${view.join('  ')}`);
    } catch {
      console.log(`${host}: no answer yet`);
    }
  }
  console.log(`(curl http://127.0.0.2:9631/butterfly for the whole view; Ctrl-C to stop)`);
}

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  console.log('stopping every Supervisor (SIGTERM: each announces its departure)');
  for (const { child } of children) if (child.exitCode === null) child.kill('SIGTERM');
  setTimeout(() => process.exit(0), 3000).unref();
};
const timer = setInterval(show, 5000);
setTimeout(stop, minutes * 60_000).unref();
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
