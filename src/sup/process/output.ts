/**
 * A child's output as Supervisor log lines. Habitat's Launcher prints a service's stdout and
 * stderr line by line as `redis.prod(O): <line>` and `redis.prod(E): <line>` (reference §7, Log
 * lines); hooks print as `redis.prod hook[init]:(HK): <line>`. This module owns the splitting:
 *
 * - `LineSplitter` turns byte chunks into lines: it keeps a partial line until its newline comes,
 *   drops the `\r` of a CRLF, caps a line at `maxLineBytes` (the rest of that line is dropped and
 *   the kept head is marked), decodes UTF-8 leniently and escapes control characters, so that
 *   binary junk from a child can neither blow up memory nor drive the operator's terminal.
 * - `pipeOutput` wires one stream (a child's stdout or stderr) to a splitter, a sink and
 *   optionally a raw log file, with a bounded write buffer.
 *
 * A sink receives structured lines (`{preamble, logkey, content}`, the fields of Habitat's
 * `--json-logging`); `formatOutputLine` renders the text form.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Logger } from '../../core/index.js';

/** One line for the Supervisor's output: `<preamble>(<logkey>): <content>`. */
export interface OutputLine {
  /** `redis.prod` for a service, `redis.prod hook[init]:` for a hook. */
  preamble: string;
  /** `O` (stdout), `E` (stderr), `HK` (hook output), `SV` (the Supervisor about this process). */
  logkey: string;
  content: string;
}

/** Where output lines go; synchronous, and must not throw. */
export type OutputSink = (line: OutputLine) => void;

export function formatOutputLine(line: OutputLine): string {
  return `${line.preamble}(${line.logkey}): ${line.content}`;
}

/** The longest line handed to a sink, in bytes. @default 64 KiB */
export const MAX_LINE_BYTES = 64 * 1024;

/** How many bytes a log file may have waiting to be written before chunks are dropped. */
export const MAX_PENDING_LOG_BYTES = 1024 * 1024;

/** Appended to a line cut at `maxLineBytes`. */
export const TRUNCATED_MARK = ' [line truncated]';

const NEWLINE = 0x0a;
const CR = 0x0d;

/**
 * Splits a byte stream into lines. Memory is bounded by `maxLineBytes` whatever the input:
 * a line longer than that is emitted as its first `maxLineBytes` bytes plus `TRUNCATED_MARK`,
 * and the rest of it, up to the next newline, is dropped.
 */
export class LineSplitter {
  private readonly parts: Buffer[] = [];
  private pendingBytes = 0;
  /** Inside the dropped tail of an over-long line. */
  private discarding = false;
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLineBytes = MAX_LINE_BYTES,
  ) {
    if (!(Number.isInteger(maxLineBytes) && maxLineBytes > 0)) {
      throw new RangeError(`maxLineBytes must be a positive integer, got ${maxLineBytes}`);
    }
  }

  push(chunk: Uint8Array): void {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    while (start < bytes.length) {
      const nl = bytes.indexOf(NEWLINE, start);
      this.append(bytes.subarray(start, nl === -1 ? bytes.length : nl));
      if (nl === -1) return;
      this.endLine();
      start = nl + 1;
    }
  }

  /** The stream ended: a last line without a newline is still a line. */
  end(): void {
    if (this.pendingBytes > 0) this.endLine();
    this.discarding = false;
  }

  private append(part: Buffer): void {
    if (this.discarding || part.length === 0) return;
    const room = this.maxLineBytes - this.pendingBytes;
    if (part.length <= room) {
      this.parts.push(part);
      this.pendingBytes += part.length;
      return;
    }
    this.parts.push(part.subarray(0, room));
    this.pendingBytes += room;
    this.emit(true);
    this.discarding = true;
  }

  private endLine(): void {
    if (this.discarding) this.discarding = false;
    else this.emit(false);
  }

  private emit(truncated: boolean): void {
    let line = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.pendingBytes);
    this.parts.length = 0;
    this.pendingBytes = 0;
    if (!truncated && line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, -1);
    const text = escapeControls(this.decoder.decode(line));
    this.onLine(truncated ? text + TRUNCATED_MARK : text);
  }
}

/**
 * C0 and C1 control characters other than tab, as `\xNN` text: a child's escape sequences must not reach
 * the operator's terminal, and a log line stays one line.
 */
export function escapeControls(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export interface PipeOutputOptions {
  preamble: string;
  logkey: string;
  sink: OutputSink;
  /** Raw output is also written here (created if missing). */
  logFile?: string;
  /** `a` appends to `logFile`, `w` truncates it first. @default 'a' */
  logFlags?: 'a' | 'w';
  log: Logger;
  /** @default MAX_LINE_BYTES */
  maxLineBytes?: number;
}

/**
 * Reads `stream` to its end: every line to the sink, every raw chunk to the log file. The
 * returned promise resolves once the stream has ended (or been destroyed) and the log file is
 * closed; it never rejects. A log file that cannot be written is reported once and then skipped.
 */
export function pipeOutput(stream: Readable, opts: PipeOutputOptions): Promise<void> {
  const { preamble, logkey, sink, log } = opts;
  const splitter = new LineSplitter((content) => {
    try {
      sink({ preamble, logkey, content });
    } catch (err) {
      log.warn('output sink failed', { preamble, error: String(err) });
    }
  }, opts.maxLineBytes);
  const file = opts.logFile === undefined ? undefined : openLog(opts.logFile, opts.logFlags ?? 'a', log);

  return new Promise<void>((resolve) => {
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      stream.off('data', onData);
      splitter.end();
      if (file === undefined) resolve();
      else void file.close().then(resolve);
    };
    const onData = (chunk: Buffer | string): void => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      file?.write(bytes);
      splitter.push(bytes);
    };
    stream.on('data', onData);
    stream.once('end', finish);
    stream.once('close', finish);
    stream.once('error', (err) => {
      log.debug('output stream error', { preamble, error: err.message });
      finish();
    });
  });
}

interface LogFile {
  write(bytes: Buffer): void;
  close(): Promise<void>;
}

function openLog(path: string, flags: 'a' | 'w', log: Logger): LogFile {
  let out: WriteStream | undefined = createWriteStream(path, { flags, mode: 0o644 });
  let dropped = 0;
  const closed = new Promise<void>((resolve) => out!.once('close', () => resolve()));
  out.on('error', (err) => {
    log.warn('could not write a log file; its output is not kept', { path, error: err.message });
    out?.destroy();
    out = undefined;
  });
  return {
    write(bytes) {
      if (out === undefined) return;
      // A slow disk must not grow our memory without bound: past the limit, chunks are dropped.
      if (out.writableLength > MAX_PENDING_LOG_BYTES) {
        if (dropped === 0) log.warn('log file is not keeping up; dropping output', { path });
        dropped += bytes.length;
        return;
      }
      out.write(bytes);
    },
    close() {
      if (out !== undefined) out.end();
      if (dropped > 0) log.warn('output dropped from a log file', { path, bytes: dropped });
      return closed;
    },
  };
}
