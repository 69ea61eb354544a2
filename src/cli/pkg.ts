/**
 * `hab pkg build PLAN_DIR` and `hab pkg install FILE.hart…`: packages built from plans, signed
 * with the origin's key, and installed into `$FS_ROOT/hab/pkgs` (docs/packages.md).
 */
import path from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import { keyCachePath } from '../crypto/index.js';
import type { CliDeps } from './deps.js';

export function addPkgCommands(program: Command, deps: CliDeps): void {
  const pkg = program.command('pkg').description('packages: build them from plans, install them');
  pkg
    .command('build')
    .description('build a plan into a signed .hart; prints the artifact path')
    .argument('<plan_dir>', 'the directory holding plan.sh (or habitat/plan.sh)')
    .option('-o, --output <dir>', 'where to write the .hart and last_build.env', 'results')
    .action(async (planDir, opts) => {
      // Imported here: every other command (and `hab sup run`) spares the memory of tar and xz.
      const { buildPackage } = await import('../pkg/index.js');
      const result = await buildPackage(planDir, {
        env: deps.env,
        outputDir: path.resolve(opts.output),
        onOutput: (line) => deps.stderr(`${line}\n`),
      });
      deps.stdout(`${result.artifact}\n`);
    });
  pkg
    .command('install')
    .description('verify and install .hart files into $FS_ROOT/hab/pkgs; prints each installed ident')
    .argument('<files...>', '.hart files')
    .action(async (files) => {
      const { installHart, pkgsRootPath } = await import('../pkg/index.js');
      const options = { pkgsRoot: pkgsRootPath(deps.env), keyCacheDir: keyCachePath(deps.env) };
      for (const file of files) {
        const result = await installHart(file, options);
        deps.stderr(
          result.alreadyInstalled
            ? `» ${result.identText} is already installed in ${result.path}; nothing to do\n`
            : `» Installed ${result.identText} in ${result.path} (signed by ${result.signer})\n`,
        );
        deps.stdout(`${result.identText}\n`);
      }
    });
}
