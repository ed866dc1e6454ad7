/** The table of the runs' resolved configs, with the fields whose values differ marked. */
import type { ConfigRow } from './model.js';

/** Flattens nested objects into dotted keys; arrays and scalars become JSON text. */
export function flattenConfig(value: unknown, prefix = '', out: Map<string, string> = new Map()): Map<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0 && prefix !== '') out.set(prefix, '{}');
    for (const [k, v] of entries) flattenConfig(v, prefix === '' ? k : `${prefix}.${k}`, out);
  } else if (prefix !== '') {
    out.set(prefix, typeof value === 'string' ? value : JSON.stringify(value) ?? 'undefined');
  }
  return out;
}

const MISSING = '—';

/**
 * One row per key that any run has, sorted by key; `differs` is true when the runs' values are not
 * all equal (a key missing in one run counts as a difference).
 */
export function configRows(configs: readonly (Record<string, unknown> | null)[]): ConfigRow[] {
  const flat = configs.map((c) => (c === null ? new Map<string, string>() : flattenConfig(c)));
  const keys = [...new Set(flat.flatMap((m) => [...m.keys()]))].sort();
  return keys.map((key) => {
    const values = flat.map((m) => m.get(key) ?? MISSING);
    return { key, values, differs: new Set(values).size > 1 };
  });
}
