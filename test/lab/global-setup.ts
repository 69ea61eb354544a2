/**
 * Before the lab tests: they need root and the tools the lab drives; and labs left behind by a
 * killed run are removed (before, and again after, the run).
 */
import { spawnSync } from 'node:child_process';
import { gcStaleLabs } from './lab.js';

const TOOLS: [string, string[], string][] = [
  ['ip', ['-V'], 'iproute2'],
  ['bridge', ['-V'], 'iproute2'],
  ['iptables-restore', ['--version'], 'iptables'],
  ['curl', ['--version'], 'curl'],
];

export default function setup(): () => void {
  if (process.getuid?.() !== 0) throw new Error('npm run test:lab needs root: it makes network namespaces, veths, a bridge and iptables rules (docs/lab.md)');
  const missing = TOOLS.filter(([cmd, args]) => spawnSync(cmd, args, { stdio: 'ignore' }).status !== 0).map(([cmd, , pkg]) => `${cmd} (Debian package ${pkg})`);
  if (missing.length > 0) throw new Error(`npm run test:lab needs ${missing.join(', ')}: apt-get install -y iproute2 iptables curl`);
  const log = (l: string): void => void process.stderr.write(`lab gc: ${l}\n`);
  gcStaleLabs(log);
  return () => void gcStaleLabs(log);
}
