/**
 * tarball: the xz-compressed tar inside a `.hart`, packed from a staged install prefix, checked
 * entry by entry, and unpacked.
 *
 * A package's tar holds its install prefix and nothing else, with paths relative to `/`:
 * `hab/pkgs/<origin>/<name>/<version>/<release>/…`, as Habitat's `tar -cf … /hab/pkgs/…` leaves
 * them. Before anything is written to disk, `scanTarball` refuses any entry that could land
 * outside that prefix: absolute paths, `..`, an empty or `.` path segment, entries of another
 * package, symbolic links whose target leaves the prefix (absolute, or too many `..`), hard links
 * to anything outside it, entries that would be written through a symbolic link, and devices or
 * FIFOs. It also reads `IDENT`, which must name the package the paths name. node-tar checks again
 * while unpacking (it refuses `..` and writing through symlinks), and `checkSymlinks` resolves
 * every link on disk afterwards: three independent lines of defence, since `.hart` files come
 * from other people.
 */
import { lstat, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { xz } from '@napi-rs/lzma';
import { create, Parser, Unpack, type ReadEntry } from 'tar';
import { MurmurError } from '../core/index.js';
import { formatIdent, parseIdent, type FullyQualifiedIdent } from './ident.js';

/** `hab/pkgs/<origin>/<name>/<version>/<release>`: where a package sits, relative to `/`. */
export function packagePathInArchive(ident: FullyQualifiedIdent): string {
  return path.posix.join('hab', 'pkgs', ident.origin, ident.name, ident.version, ident.release);
}

/**
 * Packs `<root>/<hab/pkgs/…ident>` (the staged install prefix) into a tar, then xz. Owners and
 * groups are left out (`portable`); modes, so a hook's execute bits, are kept; every entry gets
 * `mtime` (the build time), so nothing of the staging run leaks into the archive.
 */
export async function packTarball(root: string, ident: FullyQualifiedIdent, mtime: Date): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  const stream = create({ cwd: root, portable: true, mtime }, [packagePathInArchive(ident)]);
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return new Uint8Array(await xz.compress(Buffer.concat(chunks)));
}

/** xz → tar bytes; BAD_INPUT if the payload is not valid xz. */
export async function decompressTarball(payload: Uint8Array, source: string): Promise<Buffer> {
  try {
    return await xz.decompress(payload);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new MurmurError('BAD_INPUT', `${source}: the archive is not valid xz (${reason})`, { cause: err });
  }
}

export interface TarballScan {
  ident: FullyQualifiedIdent;
  /** Entries seen, including directories. */
  entries: number;
}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
const MAX_IDENT_BYTES = 1024;

/** Checks every entry of `tar` (see the module comment); resolves to the package it holds. */
export async function scanTarball(tar: Buffer, source: string): Promise<TarballScan> {
  const bad = (problem: string): MurmurError => new MurmurError('BAD_INPUT', `${source}: ${problem}`);
  let prefix: string | undefined;
  let identText: string | undefined;
  let entries = 0;
  const symlinks: string[] = [];
  const seen = new Set<string>();
  let failure: MurmurError | undefined;

  const check = (entry: ReadEntry): void => {
    const entryPath = canonical(entry.path.replace(/\/+$/, ''));
    if (entryPath === undefined) throw bad(`refused entry "${entry.path}": absolute, "..", "." or empty path segments are not allowed`);
    const parts = entryPath.split('/');
    // `hab/`, `hab/pkgs/`, … `hab/pkgs/<o>/<n>/<v>/`: parents of the prefix, which some tar
    // invocations add. They only make directories inside the temp dir, so they are let through.
    if (entry.type === 'Directory' && parts.length < 6 && parts[0] === 'hab' && (parts.length === 1 || parts[1] === 'pkgs')) return;
    if (parts.length < 6 || parts[0] !== 'hab' || parts[1] !== 'pkgs') {
      throw bad(`refused entry "${entry.path}": every entry must be inside hab/pkgs/<origin>/<name>/<version>/<release>/`);
    }
    const entryPrefix = parts.slice(0, 6).join('/');
    prefix ??= entryPrefix;
    if (entryPrefix !== prefix) throw bad(`refused entry "${entry.path}": it is outside ${prefix}/, the package this archive holds`);
    const under = symlinks.find((link) => entryPath.startsWith(`${link}/`));
    if (under !== undefined) throw bad(`refused entry "${entry.path}": it would be written through the symbolic link ${under}`);
    if (entry.type !== 'Directory' && seen.has(entryPath)) throw bad(`refused entry "${entry.path}": it appears twice`);
    seen.add(entryPath);

    if (entry.type === 'SymbolicLink') {
      const target = entry.linkpath ?? '';
      const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(entryPath), target));
      if (target === '' || target.startsWith('/') || !inside(resolved, prefix)) {
        throw bad(`refused symbolic link "${entry.path}" -> "${target}": it points outside the package`);
      }
      symlinks.push(entryPath);
    } else if (entry.type === 'Link') {
      const target = canonical(entry.linkpath ?? '');
      if (target === undefined || !inside(target, prefix)) {
        throw bad(`refused hard link "${entry.path}" -> "${entry.linkpath ?? ''}": it points outside the package`);
      }
    } else if (entry.type !== 'Directory' && !FILE_TYPES.has(entry.type)) {
      throw bad(`refused entry "${entry.path}": a ${entry.type} has no place in a package`);
    }
  };

  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      entries++;
      if (failure !== undefined) {
        entry.resume();
        return;
      }
      try {
        check(entry);
      } catch (err) {
        failure = err as MurmurError;
        entry.resume();
        return;
      }
      if (prefix !== undefined && entry.path === `${prefix}/IDENT` && FILE_TYPES.has(entry.type)) {
        const chunks: Buffer[] = [];
        let size = 0;
        entry.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_IDENT_BYTES) chunks.push(chunk);
        });
        entry.on('end', () => {
          identText = Buffer.concat(chunks).toString('utf8').trim();
        });
      } else {
        entry.resume();
      }
    },
  });
  await new Promise<void>((resolve, reject) => {
    parser.on('error', (err: Error) => reject(bad(`the tar inside is damaged: ${err.message}`)));
    parser.on('warn', (_code: string, message: string) => reject(bad(`the tar inside is damaged: ${message}`)));
    parser.on('close', () => resolve());
    parser.end(tar);
  });
  if (failure !== undefined) throw failure;
  if (prefix === undefined) throw bad('the archive holds no files');

  const [, , origin = '', name = '', version = '', release = ''] = prefix.split('/');
  let ident: FullyQualifiedIdent;
  try {
    ident = parseIdent(`${origin}/${name}/${version}/${release}`, 'the package path') as FullyQualifiedIdent;
  } catch (err) {
    throw bad(`${prefix} does not name a package: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (identText === undefined) throw bad(`${prefix}/IDENT is missing`);
  if (identText !== formatIdent(ident)) throw bad(`${prefix}/IDENT says "${identText}", but the paths say ${formatIdent(ident)}`);
  return { ident, entries };
}

/** Unpacks a tar that `scanTarball` accepted into `dir` (which must exist). */
export async function extractTarball(tar: Buffer, dir: string, source: string): Promise<void> {
  const unpack = new Unpack({ cwd: dir, strict: true, preserveOwner: false });
  await new Promise<void>((resolve, reject) => {
    unpack.on('error', (err: Error) => reject(new MurmurError('BAD_INPUT', `${source}: cannot unpack the archive: ${err.message}`, { cause: err })));
    unpack.on('close', () => resolve());
    unpack.end(tar);
  });
}

/**
 * Refuses (BAD_INPUT) any symbolic link under `root` that resolves outside `root`. Links whose
 * target does not exist were already checked by name in `scanTarball`.
 */
export async function checkSymlinks(root: string, source: string): Promise<void> {
  const realRoot = await realpath(root);
  const walk = async (dir: string): Promise<void> => {
    for (const name of await readdir(dir)) {
      const file = path.join(dir, name);
      const info = await lstat(file);
      if (info.isSymbolicLink()) {
        let target: string;
        try {
          target = await realpath(file);
        } catch {
          continue;
        }
        if (!inside(target, realRoot)) {
          throw new MurmurError('BAD_INPUT', `${source}: refused symbolic link ${path.relative(root, file)}: it resolves to ${target}, outside the package`);
        }
      } else if (info.isDirectory()) {
        await walk(file);
      }
    }
  };
  await walk(root);
}

/** `p` if it is a relative path with no empty, `.` or `..` segment; else undefined. */
function canonical(p: string): string | undefined {
  if (p === '' || p.startsWith('/')) return undefined;
  return p.split('/').every((part) => part !== '' && part !== '.' && part !== '..') ? p : undefined;
}

function inside(p: string, root: string): boolean {
  return p === root || p.startsWith(root.endsWith('/') ? root : `${root}/`);
}
