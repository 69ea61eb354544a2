import { PassThrough } from 'node:stream';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { nullLogger } from '../../../src/core/index.js';
import { formatOutputLine, LineSplitter, pipeOutput, TRUNCATED_MARK } from '../../../src/sup/process/index.js';
import { recordingSink, removeTempDirs, tempDir } from './helpers.js';

afterEach(removeTempDirs);

function split(chunks: (string | Uint8Array)[], max?: number): string[] {
  const lines: string[] = [];
  const s = new LineSplitter((l) => lines.push(l), max);
  for (const c of chunks) s.push(typeof c === 'string' ? Buffer.from(c) : c);
  s.end();
  return lines;
}

describe('splitting output into lines', () => {
  test('a line split across chunks is one line, and a last line without newline still counts', () => {
    expect(split(['hel', 'lo\nwor', 'ld\n', 'tail'])).toEqual(['hello', 'world', 'tail']);
  });

  test('CRLF ends a line like LF; empty lines are kept', () => {
    expect(split(['a\r\n\r\nb\r', '\nc\n'])).toEqual(['a', '', 'b', 'c']);
  });

  test('a CR inside a line is escaped, not a line break', () => {
    expect(split(['50%\r100%\n'])).toEqual(['50%\\x0d100%']);
  });

  test('a line longer than the cap is cut and marked, and the rest of it is dropped', () => {
    const long = 'x'.repeat(25);
    expect(split([long.slice(0, 7), long.slice(7), '\nnext\n'], 10)).toEqual([`${'x'.repeat(10)}${TRUNCATED_MARK}`, 'next']);
    expect(split(['x'.repeat(10), '\n'], 10)).toEqual(['x'.repeat(10)]);
  });

  test('a 1 MiB line without newline is capped at 64 KiB', () => {
    const lines = split([Buffer.alloc(1024 * 1024, 0x61), '\nok\n']);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe('a'.repeat(64 * 1024) + TRUNCATED_MARK);
    expect(lines[1]).toBe('ok');
  });

  test('binary junk decodes leniently and control characters are escaped', () => {
    const lines = split([new Uint8Array([0xff, 0xfe, 0x1b, 0x5b, 0x33, 0x31, 0x6d, 0x41, 0x00, 0x09, 0x42, 0x0a])]);
    expect(lines).toEqual(['\uFFFD\uFFFD\\x1b[31mA\\x00\tB']);
  });

  test('a multi-byte character split across chunks survives', () => {
    const bytes = Buffer.from('héllo\n');
    expect(split([bytes.subarray(0, 2), bytes.subarray(2)])).toEqual(['héllo']);
  });

  test('lines render as <preamble>(<logkey>): <content>', () => {
    expect(formatOutputLine({ preamble: 'redis.prod', logkey: 'O', content: 'ready' })).toBe('redis.prod(O): ready');
  });
});

describe('piping a stream', () => {
  test('lines go to the sink, raw bytes are appended to the log file', async () => {
    const dir = await tempDir();
    const file = join(dir, 'out.log');
    const rec = recordingSink();
    for (const text of ['one\r\ntw', 'o\n']) {
      const stream = new PassThrough();
      const done = pipeOutput(stream, { preamble: 'redis.prod', logkey: 'E', sink: rec.sink, logFile: file, log: nullLogger });
      stream.end(text);
      await done;
    }
    expect(rec.text()).toEqual(['redis.prod(E): one', 'redis.prod(E): tw', 'redis.prod(E): o']);
    expect(await readFile(file, 'utf8')).toBe('one\r\ntwo\n');
  });

  test('an unwritable log file does not stop the lines', async () => {
    const rec = recordingSink();
    const stream = new PassThrough();
    const done = pipeOutput(stream, { preamble: 'p', logkey: 'O', sink: rec.sink, logFile: '/nonexistent/dir/x.log', log: nullLogger });
    stream.end('still here\n');
    await done;
    expect(rec.text()).toEqual(['p(O): still here']);
  });
});
