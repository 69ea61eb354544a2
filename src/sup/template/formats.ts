/**
 * JSON and YAML text for the `toJson` and `toYaml` template helpers, shaped like Habitat's
 * (serde_json's `to_string_pretty`: 2-space indent; serde_yaml: a leading `---`, no trailing
 * newline). Both honour the float marks of `config.ts`, so `ratio = 1.0` comes out as `1.0`.
 * TOML text is `toTomlText` in `config.ts`.
 */
import { Document, Scalar } from 'yaml';
import { isFloatEntry } from './config.js';

const MAX_DEPTH = 1000;

/**
 * Pretty JSON with a 2-space indent, like `JSON.stringify(value, null, 2)` except that marked
 * floats keep `.0`, dates are their TOML text, and a cycle is an error rather than a hang.
 */
export function toJsonText(value: unknown): string {
  return jsonValue(value, '', new Set(), false) ?? 'null';
}

function jsonValue(value: unknown, indent: string, ancestors: Set<object>, float: boolean): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return String(value);
    case 'number':
      if (!Number.isFinite(value)) return 'null';
      return float && Number.isInteger(value) && Math.abs(value) < 1e21 ? `${value}.0` : String(value);
    case 'bigint':
      return value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'object':
      break;
  }
  if (value === null) return 'null';
  if (value instanceof Date) return JSON.stringify(value);
  if (ancestors.has(value) || ancestors.size >= MAX_DEPTH) throw new Error('toJson: the value refers to itself or nests too deeply');
  ancestors.add(value);
  const inner = `${indent}  `;
  let text: string;
  if (Array.isArray(value)) {
    const items = value.map((item: unknown, i) => jsonValue(item, inner, ancestors, isFloatEntry(value, i)) ?? 'null');
    text = items.length === 0 ? '[]' : `[\n${items.map((item) => inner + item).join(',\n')}\n${indent}]`;
  } else {
    const entries: string[] = [];
    for (const key of Object.keys(value)) {
      const item = jsonValue((value as Record<string, unknown>)[key], inner, ancestors, isFloatEntry(value, key));
      if (item !== undefined) entries.push(`${inner}${JSON.stringify(key)}: ${item}`);
    }
    text = entries.length === 0 ? '{}' : `{\n${entries.join(',\n')}\n${indent}}`;
  }
  ancestors.delete(value);
  return text;
}

/**
 * YAML text starting with `---`. Written as YAML 1.1 so that strings a 1.1 reader would take
 * for booleans (`yes`, `on`, `n`) are quoted; long strings are never folded.
 */
export function toYamlText(value: unknown): string {
  const doc = new Document(forYaml(value, new Set(), false), { version: '1.1' });
  return doc.toString({ directives: true, lineWidth: 0 }).replace(/\n$/, '');
}

function forYaml(value: unknown, ancestors: Set<object>, float: boolean): unknown {
  if (typeof value === 'number' && float && Number.isInteger(value)) {
    const scalar = new Scalar(value);
    scalar.minFractionDigits = 1;
    return scalar;
  }
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (typeof value !== 'object' || value === null) return value;
  if (ancestors.has(value) || ancestors.size >= MAX_DEPTH) throw new Error('toYaml: the value refers to itself or nests too deeply');
  ancestors.add(value);
  let out: unknown;
  if (Array.isArray(value)) {
    out = value.map((item: unknown, i) => forYaml(item, ancestors, isFloatEntry(value, i)) ?? null);
  } else {
    const table: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const item = (value as Record<string, unknown>)[key];
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
      Object.defineProperty(table, key, { value: forYaml(item, ancestors, isFloatEntry(value, key)), enumerable: true, writable: true, configurable: true });
    }
    out = table;
  }
  ancestors.delete(value);
  return out;
}
