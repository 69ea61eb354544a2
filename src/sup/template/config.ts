/**
 * Config layering, as Habitat's `components/common/src/templating/config.rs` does it (reference
 * §7 "Config layering"): four TOML tables deep-merged in order, later wins —
 *
 *   1. `default.toml` of the package            → `parseTomlLayer(text, 'default.toml')`
 *   2. the environment variable `HAB_<PKGNAME>`  → `envLayer(pkgName, env)`
 *   3. `/hab/user/<pkgname>/config/user.toml`   → `parseTomlLayer(text, path)`
 *   4. the gossiped `hab config apply` layer     → `parseTomlLayer(text, 'gossip config')`
 *
 * `mergeLayers([default, env, user, gossip])` gives the `cfg` templates see, and
 * `exportedConfig(cfg, pkg.exports)` the flat table a Service rumor carries (`toTomlText` writes
 * it). None of these throw on bad input: each returns a `MurmurError` (`BAD_INPUT`) instead.
 *
 * Numbers. TOML keeps integers and floats apart; JavaScript does not. A plain smol-toml parse
 * turns `ratio = 1.0` into `1`, so `{{toToml cfg}}` would hand the service `ratio = 1`, an
 * integer, which typed TOML readers (Go, Rust) refuse for a float field. Parsing with
 * `integersAsBigInt` keeps the difference but puts `bigint` everywhere, and `JSON.stringify`
 * (the HTTP gateway, `toJson`, logs) throws on a bigint. So this module parses with
 * `integersAsBigInt: true` only to *see* the types, then stores every number as a plain
 * `number` and remembers which entries were floats with integral values (`1.0`, `2e3`) in a
 * hidden, non-enumerable symbol set on their table or array (`isFloatEntry`). Values stay
 * JSON-safe and compare like ordinary data; `toTomlText`, `toJson` and `toYaml` read the marks
 * and write `1.0` back. The marks survive `mergeLayers` and `exportedConfig`; they are lost on
 * data that never went through this module (a table parsed elsewhere, a spread copy), which
 * then serializes `1.0` as `1`, exactly as a plain parse would. Plain `{{cfg.ratio}}` renders
 * `1` (Habitat renders `1.0`). Integers beyond ±2^53 are refused (`BAD_INPUT` naming the key):
 * they cannot be a `number` without losing digits.
 *
 * Dates. TOML date-times become `ConfigDate` (smol-toml's `TomlDate`, which also remembers local
 * dates and times), whose `toString()` is the TOML text, so `{{cfg.started}}` renders
 * `1979-05-27T07:32:00.000Z` rather than JavaScript's long date string.
 *
 * Tables are ordinary objects whose keys are all own properties; a key named `__proto__` is
 * defined as an entry, never taken for the prototype.
 */
import { parse, stringify, TomlDate, TomlError } from 'smol-toml';
import { MurmurError } from '../../core/index.js';

export type ConfigValue = string | number | boolean | Date | ConfigValue[] | ConfigTable;
export interface ConfigTable {
  [key: string]: ConfigValue;
}

/** Habitat's `TOML_MAX_MERGE_DEPTH`: how many levels of tables a merge may recurse through. */
export const MAX_MERGE_DEPTH = 30;

/** Nesting beyond this in a single layer (JSON from the environment can nest freely) is refused. */
const MAX_VALUE_DEPTH = 1000;

/** A TOML date-time whose `toString()` is its TOML text. */
export class ConfigDate extends TomlDate {
  override toString(): string {
    return this.toISOString();
  }
}

// ---------------------------------------------------------------------------------------------
// Float marks

const FLOAT_KEYS = Symbol('murmur.config.floatKeys');
type Marked = { [FLOAT_KEYS]?: Set<string> };

/** True when `container[key]` is a number that was a TOML float with an integral value (`1.0`). */
export function isFloatEntry(container: object, key: string | number): boolean {
  return (container as Marked)[FLOAT_KEYS]?.has(String(key)) ?? false;
}

function setFloatMark(container: object, key: string | number, float: boolean): void {
  let set = (container as Marked)[FLOAT_KEYS];
  if (!float) {
    set?.delete(String(key));
    return;
  }
  if (set === undefined) {
    set = new Set();
    Object.defineProperty(container, FLOAT_KEYS, { value: set, enumerable: false, writable: false, configurable: false });
  }
  set.add(String(key));
}

// ---------------------------------------------------------------------------------------------
// Values

function newTable(): ConfigTable {
  return {};
}

/** Sets `table[key]`; a key named `__proto__` becomes an own entry, not the prototype. */
function setKey(table: ConfigTable, key: string, value: ConfigValue): void {
  if (key === '__proto__') Object.defineProperty(table, key, { value, enumerable: true, writable: true, configurable: true });
  else table[key] = value;
}

/** A table: any non-array, non-date object. */
export function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function keyPath(path: readonly string[]): string {
  return path.length === 0 ? '(top level)' : path.join('.');
}

/** Thrown inside this module only; every public function turns it into a returned error. */
class LayerProblem extends Error {}

/**
 * Copies `value` into config form: plain numbers (floats marked on the container), `ConfigDate`s,
 * fresh tables. `null`/`undefined` in a table are dropped (TOML has no null) unless
 * `nulls` is 'refuse'.
 */
function toConfigValue(
  value: unknown,
  path: string[],
  depth: number,
  nulls: 'drop' | 'refuse',
  floatHint: boolean,
): { value: ConfigValue; float: boolean } | undefined {
  if (depth > MAX_VALUE_DEPTH) throw new LayerProblem(`values nest deeper than ${MAX_VALUE_DEPTH} levels at ${keyPath(path)}`);
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return { value, float: false };
    case 'number':
      return { value, float: floatHint && Number.isInteger(value) };
    case 'bigint':
      if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw new LayerProblem(`the integer at ${keyPath(path)} is beyond ±2^53 and cannot be kept exactly`);
      }
      return { value: Number(value), float: false };
    case 'undefined':
    case 'function':
    case 'symbol':
      if (nulls === 'refuse') throw new LayerProblem(`${keyPath(path)} has no TOML form (${typeof value})`);
      return undefined;
    case 'object':
      break;
  }
  if (value === null) {
    if (nulls === 'refuse') throw new LayerProblem(`${keyPath(path)} is null, which TOML cannot express`);
    return undefined;
  }
  if (value instanceof Date) {
    if (value instanceof ConfigDate) return { value, float: false };
    if (value instanceof TomlDate) return { value: new ConfigDate(value.toISOString()), float: false };
    return { value: new ConfigDate(value), float: false };
  }
  if (Array.isArray(value)) {
    const out: ConfigValue[] = [];
    value.forEach((item: unknown, i) => {
      const converted = toConfigValue(item, [...path, String(i)], depth + 1, nulls, isFloatEntry(value, i));
      if (converted === undefined) throw new LayerProblem(`the list at ${keyPath(path)} holds a null, which TOML cannot express`);
      setFloatMark(out, out.length, converted.float);
      out.push(converted.value);
    });
    return { value: out, float: false };
  }
  return { value: toConfigTable(value as Record<string, unknown>, path, depth, nulls, false), float: false };
}

/** `fromBigIntParse`: numbers are floats (integers arrived as bigint), so integral ones get marked. */
function toConfigTable(
  source: Readonly<Record<string, unknown>>,
  path: string[],
  depth: number,
  nulls: 'drop' | 'refuse',
  fromBigIntParse: boolean,
): ConfigTable {
  const out = newTable();
  for (const key of Object.keys(source)) {
    const converted = fromBigIntParse
      ? fromParsed(source[key], [...path, key], depth + 1)
      : toConfigValue(source[key], [...path, key], depth + 1, nulls, isFloatEntry(source, key));
    if (converted === undefined) continue;
    setKey(out, key, converted.value);
    setFloatMark(out, key, converted.float);
  }
  return out;
}

/** Like `toConfigValue`, for the output of `parse(…, {integersAsBigInt: true})`. */
function fromParsed(value: unknown, path: string[], depth: number): { value: ConfigValue; float: boolean } {
  if (typeof value === 'number') return { value, float: Number.isInteger(value) };
  if (Array.isArray(value)) {
    const out: ConfigValue[] = [];
    value.forEach((item: unknown, i) => {
      const converted = fromParsed(item, [...path, String(i)], depth + 1);
      setFloatMark(out, i, converted.float);
      out.push(converted.value);
    });
    return { value: out, float: false };
  }
  if (isTable(value)) return { value: toConfigTable(value, path, depth, 'refuse', true), float: false };
  return toConfigValue(value, path, depth, 'refuse', false) as { value: ConfigValue; float: boolean };
}

function problemToError(err: unknown, what: string): MurmurError {
  if (err instanceof LayerProblem) return new MurmurError('BAD_INPUT', `${what}: ${err.message}`);
  if (err instanceof RangeError) return new MurmurError('BAD_INPUT', `${what}: nested too deeply`, { cause: err });
  throw err;
}

// ---------------------------------------------------------------------------------------------
// Layers

/**
 * One TOML layer (`default.toml`, `user.toml`, a gossiped config). A syntax error names `source`,
 * the line and the column (1-based) and what smol-toml found there.
 */
export function parseTomlLayer(text: string, source: string): ConfigTable | MurmurError {
  let parsed: Record<string, unknown>;
  try {
    parsed = parse(text, { integersAsBigInt: true });
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = (err.message.split('\n')[0] ?? '').replace(/^Invalid TOML document:\s*/, '');
      return new MurmurError('BAD_INPUT', `${source} is not valid TOML: line ${err.line}, column ${err.column}: ${reason}`, { cause: err });
    }
    return new MurmurError('BAD_INPUT', `${source} is not valid TOML: ${(err as Error).message}`, { cause: err });
  }
  try {
    return toConfigTable(parsed, [], 0, 'refuse', true);
  } catch (err) {
    return problemToError(err, source);
  }
}

/** `HAB_<PKGNAME>`: upper-cased, `-` → `_` (`redis-ha` → `HAB_REDIS_HA`). */
export function envLayerName(pkgName: string): string {
  return `HAB_${pkgName}`.toUpperCase().replaceAll('-', '_');
}

/**
 * The environment layer: `HAB_<PKGNAME>` parsed as TOML, else as a JSON object. `undefined` when
 * the variable is not set. An unparseable value is an error naming the variable (not its value,
 * which may hold secrets).
 */
export function envLayer(
  pkgName: string,
  env: Readonly<Record<string, string | undefined>>,
): ConfigTable | undefined | MurmurError {
  const name = envLayerName(pkgName);
  const text = env[name];
  if (text === undefined) return undefined;
  const asToml = parseTomlLayer(text, name);
  if (!(asToml instanceof MurmurError)) return asToml;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return new MurmurError(
      'BAD_INPUT',
      // Node's JSON message quotes the text; keep only the reason before the quote.
      `${name} is neither TOML (${asToml.message.replace(`${name} is not valid TOML: `, '')}) nor JSON (${(err as Error).message.split(/,? "/)[0] ?? ''})`,
      { cause: err },
    );
  }
  if (!isTable(json)) {
    return new MurmurError('BAD_INPUT', `${name} holds JSON, but not an object: config must be a table of keys`);
  }
  try {
    return toConfigTable(json, [], 0, 'refuse', false);
  } catch (err) {
    return problemToError(err, name);
  }
}

/**
 * Deep-merges layers, later wins: where both sides hold a table the tables merge key by key,
 * any other value (arrays included) replaces. `undefined` layers are skipped. A merge that has
 * to recurse through more than `MAX_MERGE_DEPTH` levels of tables is refused, naming the key
 * path (Habitat logs the error and keeps a partial merge; here the caller decides). Inputs are
 * copied, never modified.
 */
export function mergeLayers(layers: readonly (Readonly<Record<string, unknown>> | undefined)[]): ConfigTable | MurmurError {
  const out = newTable();
  try {
    for (const layer of layers) if (layer !== undefined) mergeInto(out, layer, [], 0);
  } catch (err) {
    return problemToError(err, 'config merge');
  }
  return out;
}

function mergeInto(target: ConfigTable, source: Readonly<Record<string, unknown>>, path: string[], depth: number): void {
  if (depth > MAX_MERGE_DEPTH) {
    throw new LayerProblem(`tables nest deeper than ${MAX_MERGE_DEPTH} levels at ${keyPath(path)}`);
  }
  for (const key of Object.keys(source)) {
    const incoming = source[key];
    const current = Object.hasOwn(target, key) ? target[key] : undefined;
    if (isTable(current) && isTable(incoming)) {
      mergeInto(current, incoming, [...path, key], depth + 1);
      continue;
    }
    const converted = toConfigValue(incoming, [...path, key], depth + 1, 'drop', isFloatEntry(source, key));
    if (converted === undefined) continue;
    setKey(target, key, converted.value);
    setFloatMark(target, key, converted.float);
  }
}

/**
 * The exported config of a Service rumor: for each `key = dotted.path` of the package's
 * `EXPORTS`, the value at that path of the merged config, as a flat table. A path that does not
 * lead to a value is left out.
 */
export function exportedConfig(cfg: Readonly<Record<string, unknown>>, exports: Readonly<Record<string, string>>): ConfigTable {
  const out = newTable();
  for (const [key, path] of Object.entries(exports)) {
    let container: object | undefined;
    let field = '';
    let current: unknown = cfg;
    for (const segment of path.split('.')) {
      if (!isTable(current) || !Object.hasOwn(current, segment)) {
        current = undefined;
        break;
      }
      container = current;
      field = segment;
      current = current[segment];
    }
    if (current === undefined || container === undefined) continue;
    const converted = toConfigValue(current, [key], 1, 'drop', isFloatEntry(container, field));
    if (converted === undefined) continue;
    setKey(out, key, converted.value);
    setFloatMark(out, key, converted.float);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// TOML out

/**
 * TOML text of a table (the exported config of a Service rumor, the `toToml` helper). Floats
 * keep their fraction (`1.0`); `null`/`undefined` entries of tables are left out, as TOML has no
 * null. Throws `MurmurError` (`BAD_INPUT`) for a value TOML cannot hold (not a table, a null in
 * a list).
 */
export function toTomlText(table: unknown): string {
  if (!isTable(table)) {
    throw new MurmurError('BAD_INPUT', `only a table can be written as TOML, not ${Array.isArray(table) ? 'a list' : typeof table}`);
  }
  try {
    const text = stringify(forStringify(table, 0), { numbersAsFloat: true });
    return text === '\n' ? '' : text;
  } catch (err) {
    throw new MurmurError('BAD_INPUT', `cannot write TOML: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * smol-toml's `numbersAsFloat` writes every `number` as a float and every `bigint` as an
 * integer: turn the integers (safe, unmarked) into bigints for the duration of the call.
 */
function forStringify(value: unknown, depth: number, float = false): unknown {
  if (depth > MAX_VALUE_DEPTH) throw new Error(`values nest deeper than ${MAX_VALUE_DEPTH} levels`);
  if (typeof value === 'number') return Number.isSafeInteger(value) && !float ? BigInt(value) : value;
  if (value instanceof Date || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((item: unknown, i) => forStringify(item, depth + 1, isFloatEntry(value, i)));
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(value)) {
    out[key] = forStringify((value as Record<string, unknown>)[key], depth + 1, isFloatEntry(value, key));
  }
  return out;
}
