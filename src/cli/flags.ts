/**
 * Commander argument parsers for numeric flags: a value that is not a number in the flag's range
 * is refused while the command line is parsed, with an error naming the flag and the range.
 */

/** How a range reads in an error, e.g. 'an integer ≥ 1', 'a number in (0, 1]'. */
export interface FlagRange {
  integer?: boolean;
  min?: number;
  max?: number;
  /** min is excluded: (min, …. */
  minExclusive?: boolean;
  /** Appended to the range in the error, e.g. '(0: all)'. */
  note?: string;
}

function describe(r: FlagRange): string {
  const kind = r.integer ? 'an integer' : r.min !== undefined && r.max !== undefined ? 'a number' : 'a finite number';
  let range = '';
  if (r.min !== undefined && r.max !== undefined) range = ` in ${r.minExclusive ? '(' : '['}${r.min}, ${r.max}]`;
  else if (r.min !== undefined) range = ` ${r.minExclusive ? '>' : '≥'} ${r.min}`;
  else if (r.max !== undefined) range = ` ≤ ${r.max}`;
  return `${kind}${range}${r.note ? ` ${r.note}` : ''}`;
}

/** Parses `value` as the number `flag` takes (integers must be safe integers; no NaN or ±Infinity). */
export function parseNumberFlag(flag: string, value: string, r: FlagRange): number {
  const n = Number(value);
  const ok =
    value.trim() !== '' &&
    Number.isFinite(n) &&
    (!r.integer || Number.isSafeInteger(n)) &&
    (r.min === undefined || (r.minExclusive ? n > r.min : n >= r.min)) &&
    (r.max === undefined || n <= r.max);
  if (!ok) throw new RangeError(`${flag} must be ${describe(r)}, got ${JSON.stringify(value)}`);
  return n;
}

/** A commander argParser for `flag` (the flag's name as the user types it, e.g. '--top-k'). */
export function numberFlag(flag: string, r: FlagRange): (value: string) => number {
  return (value) => parseNumberFlag(flag, value, r);
}
