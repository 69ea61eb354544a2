/**
 * The template engine: handlebars.js made to behave like the handlebars-rust setup Habitat uses
 * (`TemplateRenderer` in `components/common/src/templating/mod.rs`; reference §7 "Templating",
 * node-deps §2):
 *
 * - no HTML escaping (`noEscape`), as Habitat's `never_escape`;
 * - Habitat's helpers, written here: `eachAlive`, `pkgPathFor`, `strConcat`, `strJoin`,
 *   `strReplace`, `toUppercase`, `toLowercase`, `toJson`, `toToml`, `toYaml`; and one of ours,
 *   `eachHealthy` (the alive members whose last health check passed);
 * - `members[0].sys.ip` indexing, which handlebars.js rejects, rewritten to its `members.[0]`
 *   form before parsing (`rewriteIndexing`);
 * - `#if`/`#unless` with handlebars-rust's truthiness: an empty table is false, as are `0`,
 *   `""`, `[]` and null (handlebars.js takes `{}` for true);
 * - `{{log}}` writes nothing (handlebars.js would print to the console).
 *
 * Every engine is its own `Handlebars.create()` environment, so nothing leaks between engines
 * or into the global Handlebars. Errors never escape: `compile` and `render` return a
 * `MurmurError` naming the template. A render that produces more than `maxOutputBytes` is an
 * error too: `#each`/`#eachAlive` count what they produce as they go and stop as soon as one
 * loop passes the limit, so a template iterating huge data fails early rather than filling memory.
 * So is one that takes more than `maxIterations` loop iterations and partial calls: loops nested
 * over the same list, or inline partials that call each other twice, do exponential work while
 * producing little or no output, and a render runs on the Supervisor's only thread.
 */
import Handlebars from 'handlebars';
import { MurmurError } from '../../core/index.js';
import { isTable, toTomlText } from './config.js';
import { toJsonText, toYamlText } from './formats.js';

/** @default 8 MiB */
export const DEFAULT_MAX_OUTPUT_BYTES = 8 * 1024 * 1024;
/** A third of a second of work or so: a million iterations of an `#each` body. @default 1 000 000 */
export const DEFAULT_MAX_ITERATIONS = 1_000_000;

export interface TemplateEngineOptions {
  /** The largest output one render may produce, in bytes. @default 8 MiB */
  maxOutputBytes?: number;
  /** The most `#each`/`#eachAlive` iterations and inline partial calls in one render. @default 1 000 000 */
  maxIterations?: number;
}

export interface CompiledTemplate {
  /** The name errors carry (the template's file name, relative to its directory). */
  readonly name: string;
  /** The rendered text, or a `MurmurError` (`BAD_INPUT`) naming the template and the reason. */
  render(context: unknown): string | MurmurError;
}

export interface TemplateEngine {
  readonly maxOutputBytes: number;
  /** Parses `text` now; a syntax error comes back as a `MurmurError` naming `name`. */
  compile(name: string, text: string): CompiledTemplate | MurmurError;
}

type HelperOptions = Handlebars.HelperOptions;

class OutputTooLarge extends Error {}
class TooMuchWork extends Error {}

/** Iterations and partial calls left to the render in progress (renders are synchronous). */
interface WorkBudget {
  left: number;
}

export function createTemplateEngine(opts: TemplateEngineOptions = {}): TemplateEngine {
  const maxOutputBytes = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const maxIterations = opts.maxIterations ?? DEFAULT_MAX_ITERATIONS;
  const budget: WorkBudget = { left: maxIterations };
  const hb = Handlebars.create();
  useTextCompiler(hb);
  registerHelpers(hb, maxOutputBytes, budget);
  // Compiled templates by name and text: a service renders the same templates on every pass, and
  // compiling (parse, code generation, eval) costs far more than rendering. Bounded: a package
  // has a handful of templates; the cache starts over if something keeps feeding it new text.
  const cache = new Map<string, CompiledTemplate | MurmurError>();
  const compile = (name: string, text: string): CompiledTemplate | MurmurError => {
    const key = `${name}\u0000${text}`;
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    if (cache.size >= COMPILE_CACHE_ENTRIES) cache.clear();
    const compiled = compileUncached(name, text);
    cache.set(key, compiled);
    return compiled;
  };
  return { maxOutputBytes, compile };

  function compileUncached(name: string, text: string): CompiledTemplate | MurmurError {
    let ast: hbs.AST.Program;
    try {
      ast = hb.parse(rewriteIndexing(text));
    } catch (err) {
      return new MurmurError('BAD_INPUT', `template ${name}: ${messageOf(err)}`, { cause: err });
    }
    const template = hb.compile(ast, { noEscape: true, strict: false });
    return {
      name,
      render(context) {
        let out: string;
        budget.left = maxIterations;
        try {
          out = template(context);
        } catch (err) {
          if (err instanceof OutputTooLarge) return tooLarge(name, maxOutputBytes);
          if (err instanceof TooMuchWork) {
            return new MurmurError('TOO_LARGE', `template ${name}: more than ${maxIterations} loop iterations and partial calls in one render (loops nested over large lists, or partials that call each other)`);
          }
          return new MurmurError('BAD_INPUT', `template ${name}: ${messageOf(err)}`, { cause: err });
        }
        if (out.length > maxOutputBytes || Buffer.byteLength(out, 'utf8') > maxOutputBytes) return tooLarge(name, maxOutputBytes);
        return out;
      },
    };
  }
}

/** How many compiled templates an engine keeps. @default 256 */
const COMPILE_CACHE_ENTRIES = 256;

function tooLarge(name: string, max: number): MurmurError {
  return new MurmurError('TOO_LARGE', `template ${name}: the output would be larger than ${max} bytes`);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message.trimEnd() : String(err);
}

/** The parts of handlebars' code generator (`JavaScriptCompiler`) that `useTextCompiler` touches. */
type CompilerClass = (new () => object) & {
  prototype: {
    compiler: unknown;
    appendToBuffer(this: unknown, source: unknown, location: unknown, explicit: unknown): unknown;
  };
};

/**
 * With `noEscape`, handlebars.js joins adjacent outputs with a bare `+`, so `{{a}}{{b}}` with
 * `a = 1, b = 2` renders `3`, and `{{@index}}{{@first}}` renders `1`. This engine's code
 * generator turns every appended piece into a string first (`"" + (piece)`). The subclass is
 * installed on this environment only; `compiler` is what handlebars uses for nested blocks.
 */
function useTextCompiler(hb: typeof Handlebars): void {
  const env = hb as unknown as { JavaScriptCompiler: CompilerClass };
  const Base = env.JavaScriptCompiler;
  const TextCompiler = class extends (Base as new () => object) {} as unknown as CompilerClass;
  TextCompiler.prototype.compiler = TextCompiler;
  TextCompiler.prototype.appendToBuffer = function (this: unknown, source: unknown, location: unknown, explicit: unknown) {
    const parts: unknown[] = Array.isArray(source) ? source : [source];
    return Base.prototype.appendToBuffer.call(this, ['"" + (', ...parts, ')'], location, explicit);
  };
  env.JavaScriptCompiler = TextCompiler;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** handlebars-rust's `JsonTruthy`: empty strings, lists and tables, 0, NaN and null are false. */
export function isTruthy(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0 && !Number.isNaN(value);
  if (typeof value === 'string') return value.length > 0;
  if (Array.isArray(value)) return value.length > 0;
  if (isTable(value)) return Object.keys(value).length > 0;
  return true;
}

/** A value as handlebars writes it into text. */
function asText(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return value.toString();
    case 'object':
      if (value === null) return '';
      if (Array.isArray(value)) return value.map(asText).join(',');
      return value instanceof Date ? value.toString() : Object.prototype.toString.call(value);
    default:
      return '';
  }
}

/** Splits helper arguments from the trailing options object handlebars appends. */
function splitArgs(args: unknown[]): { params: unknown[]; options: HelperOptions } {
  return { params: args.slice(0, -1), options: args[args.length - 1] as HelperOptions };
}

function need(helper: string, params: unknown[], count: number): void {
  if (params.length < count) {
    throw new Error(`${helper} needs ${count} parameter${count === 1 ? '' : 's'}, got ${params.length}`);
  }
}

function isAlive(member: unknown): boolean {
  return isTable(member) && member.alive === true;
}

/** Alive, and its last health check was OK or WARNING (what `…/health` answers 200 for). */
function isHealthy(member: unknown): boolean {
  return isAlive(member) && isTable(member) && (member.health_check === 'ok' || member.health_check === 'warning');
}

interface PkgDep {
  origin?: unknown;
  name?: unknown;
  version?: unknown;
  release?: unknown;
  path?: unknown;
}

function registerHelpers(hb: typeof Handlebars, maxChars: number, budget: WorkBudget): void {
  /** Wraps a block's `fn` so that each call spends one unit of the render's work budget. */
  const budgeted = (fn: Handlebars.TemplateDelegate): Handlebars.TemplateDelegate => {
    return (context: unknown, runtime?: Handlebars.RuntimeOptions) => {
      if (--budget.left < 0) throw new TooMuchWork();
      return fn(context, runtime);
    };
  };
  /** Wraps a block's `fn` so that a loop stops once its output passes the limit, or the work budget runs out. */
  const counting = (fn: Handlebars.TemplateDelegate): Handlebars.TemplateDelegate => {
    let total = 0;
    const spend = budgeted(fn);
    return (context: unknown, runtime?: Handlebars.RuntimeOptions) => {
      const piece = spend(context, runtime);
      total += piece.length;
      if (total > maxChars) throw new OutputTooLarge();
      return piece;
    };
  };

  // `{{#*inline "p"}}…{{/inline}}`: every call of the partial spends from the budget, so that
  // partials calling each other (or themselves) cannot do unbounded work.
  type Decorator = (this: unknown, fn: unknown, props: unknown, container: unknown, options: { fn: Handlebars.TemplateDelegate }) => unknown;
  const builtinInline = (hb as unknown as { decorators: Record<string, Decorator> }).decorators.inline as Decorator;
  hb.registerDecorator('inline', function (this: unknown, fn: unknown, props: unknown, container: unknown, options: { fn: Handlebars.TemplateDelegate }) {
    return builtinInline.call(this, fn, props, container, { ...options, fn: budgeted(options.fn) });
  });

  const builtinEach = hb.helpers.each as (this: unknown, context: unknown, options: HelperOptions) => string;
  hb.registerHelper('each', function (this: unknown, context: unknown, options: HelperOptions) {
    return builtinEach.call(this, context, { ...options, fn: counting(options.fn) });
  });

  hb.registerHelper('if', function (this: unknown, ...args: unknown[]) {
    const { params, options } = splitArgs(args);
    if (params.length !== 1) throw new Error('#if needs exactly one parameter');
    let value = params[0];
    if (typeof value === 'function') value = (value as (this: unknown) => unknown).call(this);
    const yes = isTruthy(value) || (options.hash.includeZero === true && value === 0);
    return yes ? options.fn(this) : options.inverse(this);
  });

  hb.registerHelper('unless', function (this: unknown, ...args: unknown[]) {
    const { params, options } = splitArgs(args);
    if (params.length !== 1) throw new Error('#unless needs exactly one parameter');
    let value = params[0];
    if (typeof value === 'function') value = (value as (this: unknown) => unknown).call(this);
    const yes = isTruthy(value) || (options.hash.includeZero === true && value === 0);
    return yes ? options.inverse(this) : options.fn(this);
  });

  hb.registerHelper('log', () => '');

  /** `#each` over the members that pass `keep`: the body of `eachAlive` and `eachHealthy`. */
  const eachKept = (helper: string, keep: (member: unknown) => boolean) =>
    function (this: unknown, ...args: unknown[]) {
      const { params, options } = splitArgs(args);
      need(helper, params, 1);
      const value = params[0];
      let items: { item: unknown; key: string | number }[] = [];
      if (Array.isArray(value)) {
        items = value.flatMap((item: unknown, i) => (keep(item) ? [{ item, key: i }] : []));
      } else if (isTable(value)) {
        items = Object.keys(value).flatMap((key) => (keep(value[key]) ? [{ item: value[key], key }] : []));
      } else if (isTruthy(value)) {
        throw new Error(`${helper} needs a list of members, got ${typeof value}`);
      }
      if (items.length === 0) return options.inverse(this);
      const fn = counting(options.fn);
      let out = '';
      items.forEach(({ item, key }, i) => {
        const data = (options.data === undefined ? {} : hb.createFrame(options.data)) as Record<string, unknown>;
        data.index = i;
        data.key = key;
        data.first = i === 0;
        data.last = i === items.length - 1;
        out += fn(item, { data, blockParams: [item, key] });
      });
      return out;
    };

  /**
   * `{{#eachAlive svc.members as |member|}}…{{else}}…{{/eachAlive}}`: like `#each`, over the
   * members whose `alive` is `true` only; `@index`, `@first`, `@last` count the alive ones.
   * Over a table, its alive values (with `@key`). `{{else}}` when there is no alive member.
   */
  hb.registerHelper('eachAlive', eachKept('eachAlive', isAlive));

  /**
   * Ours: `{{#eachHealthy bind.db.members as |m|}}…{{/eachHealthy}}`: as `eachAlive`, over the
   * alive members whose last health check was OK or WARNING (`health_check`), so that a
   * template can leave out the members that fail theirs.
   */
  hb.registerHelper('eachHealthy', eachKept('eachHealthy', isHealthy));

  /**
   * `{{pkgPathFor "core/openssl"}}`: the install path of the first of `pkg.deps` matching the
   * ident (`origin/name`, optionally `/version[/release]`); empty when none does.
   */
  hb.registerHelper('pkgPathFor', (...args: unknown[]) => {
    const { params, options } = splitArgs(args);
    const ident = params[0];
    const parts = typeof ident === 'string' ? ident.split('/') : [];
    if (parts.length < 2 || parts.length > 4 || parts.some((p) => p === '')) {
      throw new Error(`pkgPathFor needs a package ident like "core/openssl", got ${JSON.stringify(ident) ?? 'nothing'}`);
    }
    const [origin, name, version, release] = parts;
    const root = (options.data as { root?: { pkg?: { deps?: unknown } } } | undefined)?.root;
    const deps = Array.isArray(root?.pkg?.deps) ? (root.pkg.deps as PkgDep[]) : [];
    const dep = deps.find(
      (d) =>
        isTable(d) &&
        d.origin === origin &&
        d.name === name &&
        (version === undefined || d.version === version) &&
        (release === undefined || d.release === release),
    );
    return typeof dep?.path === 'string' ? dep.path : '';
  });

  /** `{{strConcat a b c}}`: every parameter as text, joined. */
  hb.registerHelper('strConcat', (...args: unknown[]) => splitArgs(args).params.map(asText).join(''));

  /** `{{strJoin list ","}}`: the list's items as text, separated by the second parameter. */
  hb.registerHelper('strJoin', (...args: unknown[]) => {
    const { params } = splitArgs(args);
    need('strJoin', params, 2);
    const [list, separator] = params;
    if (!Array.isArray(list)) throw new Error(`strJoin needs a list as its first parameter, got ${typeof list}`);
    return list.map(asText).join(asText(separator));
  });

  /** `{{strReplace text "old" "new"}}`: every occurrence of `old` replaced. */
  hb.registerHelper('strReplace', (...args: unknown[]) => {
    const { params } = splitArgs(args);
    need('strReplace', params, 3);
    return asText(params[0]).replaceAll(asText(params[1]), asText(params[2]));
  });

  hb.registerHelper('toUppercase', (...args: unknown[]) => {
    const { params } = splitArgs(args);
    need('toUppercase', params, 1);
    return asText(params[0]).toUpperCase();
  });

  hb.registerHelper('toLowercase', (...args: unknown[]) => {
    const { params } = splitArgs(args);
    need('toLowercase', params, 1);
    return asText(params[0]).toLowerCase();
  });

  hb.registerHelper('toJson', (...args: unknown[]) => {
    const { params } = splitArgs(args);
    need('toJson', params, 1);
    return toJsonText(params[0]);
  });

  hb.registerHelper('toToml', (...args: unknown[]) => {
    const { params } = splitArgs(args);
    need('toToml', params, 1);
    return toTomlText(params[0]);
  });

  hb.registerHelper('toYaml', (...args: unknown[]) => {
    const { params } = splitArgs(args);
    need('toYaml', params, 1);
    return toYamlText(params[0]);
  });
}

// ---------------------------------------------------------------------------------------------
// `x[0]` → `x.[0]`

/** Characters handlebars.js does not allow in an identifier (its lexer's `ID` rule). */
const NOT_ID = /[\s!"#%&'()*+,./;<=>@[\\\]^`{|}~]/;

/**
 * Rewrites handlebars-rust's index syntax (`members[0].sys.ip`, `a[0][1]`) to the form
 * handlebars.js parses (`members.[0].sys.ip`). Only inside `{{…}}` tags, never inside string
 * literals, comments, raw blocks (`{{{{raw}}}}…{{{{/raw}}}}`) or escaped mustaches (`\{{`); a
 * `[` that already opens a segment (`a.[0]`, `[weird key]`) is left alone. Line breaks are kept,
 * so parse errors point at the template's own lines.
 */
export function rewriteIndexing(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf('{{', i);
    if (open < 0) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, open);
    let backslashes = 0;
    for (let k = open - 1; k >= 0 && text[k] === '\\'; k--) backslashes++;
    if (backslashes % 2 === 1) {
      out += '{{';
      i = open + 2;
      continue;
    }
    const end = skipVerbatim(text, open);
    if (end !== undefined) {
      out += text.slice(open, end);
      i = end;
      continue;
    }
    const tag = rewriteTag(text, open);
    out += tag.text;
    i = tag.end;
  }
  return out;
}

/** The end of a comment or raw block starting at `open`, or undefined for an ordinary tag. */
function skipVerbatim(text: string, open: number): number | undefined {
  const after = text.startsWith('~', open + 2) ? open + 3 : open + 2;
  if (text.startsWith('!--', after)) return endOf(text, /--~?\}\}/y, after + 3);
  if (text.startsWith('!', after)) return endOf(text, /\}\}/y, after + 1);
  if (text.startsWith('{{{{', open)) {
    const close = text.indexOf('}}}}', open + 4);
    if (close < 0) return text.length;
    const name = text.slice(open + 4, close).trim().split(/\s+/)[0] ?? '';
    const endTag = text.indexOf(`{{{{/${name}}}}}`, close + 4);
    return endTag < 0 ? text.length : endTag + `{{{{/${name}}}}}`.length;
  }
  return undefined;
}

function endOf(text: string, closing: RegExp, from: number): number {
  const global = new RegExp(closing.source, 'g');
  global.lastIndex = from;
  const match = global.exec(text);
  return match === null ? text.length : match.index + match[0].length;
}

function rewriteTag(text: string, open: number): { text: string; end: number } {
  let out = '{{';
  let k = open + 2;
  let quote: string | undefined;
  while (k < text.length) {
    const ch = text[k] as string;
    if (quote !== undefined) {
      out += ch;
      if (ch === quote) quote = undefined;
      k++;
      continue;
    }
    if (ch === '"' || ch === "'") {
      quote = ch;
      out += ch;
      k++;
      continue;
    }
    if (ch === '}' && text[k + 1] === '}') return { text: `${out}}}`, end: k + 2 };
    if (ch === '[') {
      const prev = out[out.length - 1] ?? '';
      if (prev === ']' || (prev !== '' && !NOT_ID.test(prev))) out += '.';
      const close = text.indexOf(']', k);
      const stop = close < 0 ? text.length : close + 1;
      out += text.slice(k, stop);
      k = stop;
      continue;
    }
    out += ch;
    k++;
  }
  return { text: out, end: k };
}
