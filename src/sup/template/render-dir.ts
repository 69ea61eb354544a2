/**
 * Renders a package's templates into a service directory, as Habitat's `CfgRenderer::compile`
 * and `Hook::compile` do (reference §7 "Templating"): `config/` → `/hab/svc/<name>/config/`,
 * `hooks/` → `/hab/svc/<name>/hooks/`.
 *
 * - A file is rewritten (atomically: temp file, fsync, rename) only when its rendered bytes
 *   differ from what is there, so an unchanged config keeps its mtime and inode and does not
 *   look like a change to the service or to `decideTemplateUpdate`.
 * - A file whose template fails (syntax, a helper error, output too large) keeps its old
 *   content, and the error names the file; the other files are still rendered.
 * - Files in the destination that no longer have a template are removed (Habitat leaves them;
 *   a stale config file can mislead a service that globs its config directory).
 * - Nothing here throws for bad templates or file-system trouble: everything comes back in
 *   `errors`. If the template directory cannot be read (other than not existing), nothing is
 *   written or removed.
 */
import { chmod, lstat, readdir, readFile, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, extname, join, posix } from 'node:path';
import { MurmurError } from '../../core/index.js';
import { ensureDir, readIfExists, writeFileAtomic } from '../files.js';
import { createTemplateEngine, type TemplateEngine } from './render.js';

/** Habitat writes rendered config files with 0o740; without an execute bit here. */
export const CONFIG_FILE_MODE = 0o640;
/** Habitat's `HOOK_PERMISSIONS`. */
export const HOOK_FILE_MODE = 0o755;

export interface RenderFileError {
  /** The file, relative to the template directory (`''` for the directory itself). */
  file: string;
  message: string;
}

export interface RenderDirResult {
  /** Relative paths (with `/`) whose content changed, new files included; sorted. */
  written: string[];
  /** Relative paths removed because their template is gone; sorted. */
  removed: string[];
  errors: RenderFileError[];
}

export interface RenderDirOptions {
  /** Mode of the rendered files. @default CONFIG_FILE_MODE (0o640) */
  mode?: number;
  /** @default a fresh `createTemplateEngine()` */
  engine?: TemplateEngine;
}

export interface RenderHooksResult extends RenderDirResult {
  /** Hook names (`run`, `post-run`, …) whose rendered file was written or removed. */
  changed: Set<string>;
  /** Every hook the package has now, by name, sorted: the files under `destDir`. */
  hooks: string[];
}

/** One file to produce: where its template is, and its path relative to the destination. */
interface RenderJob {
  source: string;
  target: string;
  /** The name errors use. */
  label: string;
}

/**
 * Renders every file under `srcDir` (recursively, keeping relative paths) into `destDir`. A
 * missing `srcDir` means no templates, so every file in `destDir` is stale.
 */
export async function renderDir(srcDir: string, destDir: string, context: unknown, opts: RenderDirOptions = {}): Promise<RenderDirResult> {
  const listed = await listTemplates(srcDir);
  if (listed instanceof MurmurError) return { written: [], removed: [], errors: [{ file: '', message: listed.message }] };
  const jobs = listed.map((rel) => ({ source: join(srcDir, ...rel.split('/')), target: rel, label: rel }));
  return syncRendered(jobs, destDir, context, opts.mode ?? CONFIG_FILE_MODE, opts.engine ?? createTemplateEngine(), []);
}

/**
 * Renders the hooks in `hooksSrcDir` (files only, not recursive) into `destDir` with mode 0755.
 * A hook's name is its file name without the extension (`run.sh` → `run`), and Habitat's
 * deprecated underscore spellings are accepted (`post_run` → `post-run`); the rendered file is
 * `destDir/<name>`. When two files give the same name, the one without an extension (then the
 * canonical spelling, then the first in name order) wins and the others are reported as errors.
 */
export async function renderHooks(hooksSrcDir: string, destDir: string, context: unknown, opts: Omit<RenderDirOptions, 'mode'> = {}): Promise<RenderHooksResult> {
  let names: string[];
  try {
    names = (await readdir(hooksSrcDir, { withFileTypes: true }))
      .filter((d) => d.isFile() || d.isSymbolicLink())
      .map((d) => d.name)
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      return { written: [], removed: [], errors: [{ file: '', message: `cannot read ${hooksSrcDir}: ${(err as Error).message}` }], changed: new Set(), hooks: [] };
    }
    names = [];
  }
  const byHook = new Map<string, string[]>();
  for (const file of names) {
    const hook = hookName(file);
    byHook.set(hook, [...(byHook.get(hook) ?? []), file]);
  }
  const jobs: RenderJob[] = [];
  const errors: RenderFileError[] = [];
  for (const [hook, files] of byHook) {
    const [winner, ...losers] = files.sort((a, b) => preference(a, hook) - preference(b, hook) || (a < b ? -1 : 1));
    if (winner === undefined) continue;
    jobs.push({ source: join(hooksSrcDir, winner), target: hook, label: winner });
    for (const loser of losers) errors.push({ file: loser, message: `ignored: hook ${hook} is rendered from ${winner}` });
  }
  const result = await syncRendered(jobs, destDir, context, HOOK_FILE_MODE, opts.engine ?? createTemplateEngine(), errors);
  return {
    ...result,
    changed: new Set([...result.written, ...result.removed]),
    hooks: jobs.map((j) => j.target).sort(),
  };
}

/** Habitat's hooks whose deprecated file names used `_` for `-`. */
const DEPRECATED_HOOK_NAMES: Readonly<Record<string, string>> = {
  post_run: 'post-run',
  post_stop: 'post-stop',
  health_check: 'health-check',
  file_updated: 'file-updated',
};

/** `run.sh` → `run`, `post_run` → `post-run`, `.hidden` → `.hidden`. */
export function hookName(fileName: string): string {
  const stem = fileName.slice(0, fileName.length - extname(fileName).length);
  return DEPRECATED_HOOK_NAMES[stem] ?? stem;
}

function preference(file: string, hook: string): number {
  if (file === hook) return 0;
  if (extname(file) === '') return 1;
  return 2;
}

/** Relative paths (with `/`) of the files under `dir`, sorted; `[]` when `dir` does not exist. */
async function listTemplates(dir: string): Promise<string[] | MurmurError> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(rel === '' ? dir : join(dir, rel), { withFileTypes: true });
    for (const entry of entries) {
      const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) await walk(child);
      else if (entry.isFile()) out.push(child);
      else if (entry.isSymbolicLink() && (await stat(join(dir, child)).catch(() => undefined))?.isFile()) out.push(child);
    }
  };
  try {
    await walk('');
  } catch (err) {
    // A missing template directory means no templates; a file vanishing mid-walk is an error.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && (err as NodeJS.ErrnoException).path === dir) return [];
    return new MurmurError('IO', `cannot read templates in ${dir}: ${(err as Error).message}`, { cause: err });
  }
  return out.sort();
}

async function syncRendered(
  jobs: readonly RenderJob[],
  destDir: string,
  context: unknown,
  mode: number,
  engine: TemplateEngine,
  errors: RenderFileError[],
): Promise<RenderDirResult> {
  const written: string[] = [];
  for (const job of jobs) {
    const problem = await renderOne(job, destDir, context, mode, engine, written);
    if (problem !== undefined) errors.push({ file: job.label, message: problem });
  }
  const removed = await removeStale(destDir, new Set(jobs.map((j) => j.target)), errors);
  return { written: written.sort(), removed: removed.sort(), errors };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Renders one job; returns why it failed, or undefined. */
async function renderOne(job: RenderJob, destDir: string, context: unknown, mode: number, engine: TemplateEngine, written: string[]): Promise<string | undefined> {
  let text: string;
  try {
    text = utf8.decode(await readFile(job.source));
  } catch (err) {
    return err instanceof TypeError ? 'the template is not UTF-8 text' : `cannot read the template: ${(err as Error).message}`;
  }
  const compiled = engine.compile(job.label, text);
  if (compiled instanceof MurmurError) return compiled.message;
  const rendered = compiled.render(context);
  if (rendered instanceof MurmurError) return rendered.message;
  const bytes = Buffer.from(rendered, 'utf8');
  const path = join(destDir, ...job.target.split('/'));
  try {
    const existing = await readIfExists(path).catch(() => undefined);
    if (existing !== undefined && existing.equals(bytes)) {
      if (((await stat(path)).mode & 0o7777) !== mode) await chmod(path, mode);
      return undefined;
    }
    await ensureDir(dirname(path));
    await writeFileAtomic(path, bytes, mode);
    // The temp file was created through the umask; give the file the mode asked for.
    await chmod(path, mode);
  } catch (err) {
    return `cannot write ${path}: ${(err as Error).message}`;
  }
  written.push(job.target);
  return undefined;
}

/** Removes the files under `destDir` not in `keep`, then the directories that left empty. */
async function removeStale(destDir: string, keep: ReadonlySet<string>, errors: RenderFileError[]): Promise<string[]> {
  const removed: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const abs = rel === '' ? destDir : join(destDir, ...rel.split('/'));
    let entries;
    try {
      entries = await readdir(abs, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') errors.push({ file: '', message: `cannot read ${abs}: ${(err as Error).message}` });
      return;
    }
    for (const entry of entries) {
      const child = rel === '' ? entry.name : posix.join(rel, entry.name);
      if (entry.isDirectory()) {
        await walk(child);
        // Only succeeds when the directory is empty now.
        await rmdir(join(destDir, ...child.split('/'))).catch(() => {});
        continue;
      }
      if (keep.has(child)) continue;
      try {
        await unlink(join(destDir, ...child.split('/')));
        removed.push(child);
      } catch (err) {
        errors.push({ file: child, message: `cannot remove the stale ${join(destDir, ...child.split('/'))}: ${(err as Error).message}` });
      }
    }
  };
  // `lstat` first: a destination that is a file or a link is not walked into.
  const top = await lstat(destDir).catch(() => undefined);
  if (top?.isDirectory()) await walk('');
  return removed;
}
