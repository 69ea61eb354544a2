/**
 * Builds dist/ once before the tests that run the real binaries (bin/murmur, bin/hab), so that
 * they never run a stale build. tsc emits even when it finds type errors; those are
 * `npm run typecheck`'s to report, so here they are only echoed, and the run fails only when
 * there is no entry point to run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');

export default function setup(): void {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
    cwd: root,
    encoding: 'utf8',
  });
  if (result.error) throw result.error;
  const output = `${result.stdout}${result.stderr}`;
  if (!existsSync(path.join(root, 'dist', 'app', 'main.js'))) {
    throw new Error(`tsc -p tsconfig.build.json did not produce dist/app/main.js:\n${output}`);
  }
  if (result.status !== 0) {
    process.stderr.write(
      `warning: tsc -p tsconfig.build.json reported errors (exit ${result.status}); the CLI tests run the code it emitted anyway:\n${output}`,
    );
  }
}
