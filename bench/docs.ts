/**
 * Writing a benchmark's results into docs/benchmarks.md: each benchmark owns one `## ` section
 * (its heading), which a run replaces in place, or appends when the file does not have it yet.
 * The other sections are left as they are.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const BENCHMARKS_DOC = join(import.meta.dirname, '..', 'docs', 'benchmarks.md');

/** Replaces (or appends) the section that starts with the line `heading`; returns the file written. */
export function writeDocsSection(heading: string, section: string, file = BENCHMARKS_DOC): string {
  const text = readFileSync(file, 'utf8');
  const at = text.indexOf(`\n${heading}\n`);
  let next: string;
  if (at < 0) {
    next = `${text.trimEnd()}\n\n${section}`;
  } else {
    const rest = text.slice(at + 1 + heading.length);
    const end = rest.search(/\n## /);
    next = `${text.slice(0, at + 1)}${section}${end < 0 ? '' : rest.slice(end + 1)}`;
  }
  writeFileSync(file, next.endsWith('\n') ? next : `${next}\n`);
  return file;
}
