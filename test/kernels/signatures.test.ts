import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backends, nativeUnavailableReason } from './backends.js';
import type { FloatArray, Kernels } from '../../src/kernels/types.js';
import { createReferenceKernels } from '../../src/kernels/reference/index.js';
import { withValidation } from '../../src/kernels/validate.js';
import { KERNEL_NAMES, KERNEL_SIGNATURES, type ArgSpec, type ArrayDtype, type KernelFunctionName, type KernelSignature } from '../../src/kernels/signatures.js';

// Table-driven: every function of the signature table gets valid arguments built from the table
// itself, then one bad argument at a time — wrong length, wrong array type, bad format/dtype, bad
// dimension, out-of-range number, non-object — on every backend (validated) and on the raw addon.

type Args = unknown[];

/** Element arrays of a backend, for a dtype of the table. */
function arrayOf(dtype: ArrayDtype, n: number, alloc: (n: number) => FloatArray): FloatArray | Uint8Array | Uint16Array | Int32Array {
  if (dtype === 'float' || dtype === 'floatOrBf16') return alloc(n).fill(0.5);
  if (dtype === 'u8') return new Uint8Array(n);
  if (dtype === 'u16') return new Uint16Array(n);
  if (dtype === 'i32') return new Int32Array(n); // targets 0: in range
  return new Float64Array(n);
}

/** A typed array of the same type as `value`, length n. */
function sameType(value: ArrayBufferView, n: number): ArrayBufferView {
  for (const C of [Float32Array, Float64Array, Uint8Array, Uint16Array, Int32Array]) if (value instanceof C) return new C(n);
  throw new Error(`unexpected array type ${value.constructor.name}`);
}

/** A typed array of another type than `value`, same length. */
function otherArray(value: ArrayBufferView): ArrayBufferView {
  const n = 'length' in value && typeof value.length === 'number' ? value.length : 1;
  return value instanceof Uint32Array ? new Int16Array(n) : new Uint32Array(n);
}

function evaluate(expression: string, args: Record<string, unknown>): number {
  let n = 1;
  for (const factor of expression.split(/[·*]/).map((f) => f.trim())) {
    if (/^\d+$/.test(factor)) n *= Number(factor);
    else {
      const [root, field] = factor.split('.');
      n *= Number(field === undefined ? args[root] : Reflect.get(Object(args[root]), field));
    }
  }
  return n;
}

const NUMBER_VALUES = { finite: 0.5, nonNegative: 0.5, positive: 1, scale: 1, fraction: 0.5, atLeastOne: 2, index: 0 } as const;
/** A value the rule rejects with a RangeError. */
const NUMBER_BAD = { finite: Infinity, nonNegative: -1, positive: 0, scale: 1e39, fraction: 1, atLeastOne: 0.5, index: -1 } as const;

/**
 * Valid values for one level of specs (arguments or a struct's fields): scalars first, then
 * arrays of free length, then arrays and structs whose lengths refer to them.
 */
function validLevel(specs: readonly ArgSpec[], top: Record<string, unknown>, own: Record<string, unknown>, alloc: (n: number) => FloatArray): void {
  const rank = (s: ArgSpec): number =>
    s.kind === 'array' ? (s.length === undefined ? 1 : 2)
      : s.kind === 'floatsOrStruct' ? 2
      : s.kind === 'struct' ? (s.fields.some((f) => f.kind === 'array') ? 2 : 0)
        : s.kind === 'int' && typeof s.multipleOf === 'string' ? 1 : 0;
  for (const pass of [0, 1, 2]) {
    // Optional fields stay undefined (a frozen id would make the addon keep a packed operand); their bad values are still tried.
    for (const spec of specs.filter((s) => rank(s) === pass && !(s.optional && own !== top))) {
      switch (spec.kind) {
        case 'int':
          own[spec.name] = typeof spec.multipleOf === 'string' ? 2 * Number(own[spec.multipleOf]) : 2;
          break;
        case 'number':
          own[spec.name] = spec.greaterThan === undefined ? NUMBER_VALUES[spec.rule] : Number(own[spec.greaterThan]) + 1;
          break;
        case 'enum':
          own[spec.name] = spec.values[0];
          break;
        case 'bool':
          own[spec.name] = true;
          break;
        case 'array': {
          const dtype = typeof spec.dtype === 'string' ? spec.dtype : spec.dtype.map[String(own[spec.dtype.field])];
          own[spec.name] = arrayOf(dtype, spec.length === undefined ? 4 : evaluate(spec.length, top), alloc);
          break;
        }
        case 'struct': {
          const fields: Record<string, unknown> = {};
          validLevel(spec.fields, top, fields, alloc);
          own[spec.name] = fields;
          break;
        }
        case 'floatsOrStruct': // the float alternative (the struct one: validAlternatives)
          validLevel([spec.floats], top, own, alloc);
          break;
      }
    }
  }
}

/** The valid arguments with one floats-or-struct argument given as its struct alternative (FP8 codes), one list per such argument. */
function validAlternatives(signature: KernelSignature, valid: Args): Args[] {
  const named = Object.fromEntries(signature.args.map((spec, i) => [spec.name, valid[i]]));
  return signature.args.flatMap((spec, i) => {
    if (spec.kind !== 'floatsOrStruct') return [];
    const fields: Record<string, unknown> = {};
    validLevel(spec.struct.fields, named, fields, (n) => new Float32Array(n));
    return [valid.map((v, j) => (j === i ? fields : v))];
  });
}

function validArgs(signature: KernelSignature, alloc: (n: number) => FloatArray): Args {
  const named: Record<string, unknown> = {};
  validLevel(signature.args, named, named, alloc);
  return signature.args.map((spec) => named[spec.name]);
}

/** One bad argument: the args with the value at `path` replaced, what the error must say, and its class. */
interface BadCase {
  label: string;
  args: Args;
  kind: typeof TypeError | typeof RangeError;
  fragments: string[];
  /** A length or array-type error: the raw addon must refuse it too (memory safety). */
  buffer: boolean;
}

/** Every bad case of a signature, derived from its specs. */
function badCases(fn: string, signature: KernelSignature, valid: Args): BadCase[] {
  const cases: BadCase[] = [];
  const walk = (specs: readonly ArgSpec[], get: () => Record<string, unknown>, set: (args: Args, name: string, value: unknown) => Args, prefix: string): void => {
    for (const spec of specs) {
      const path = prefix + spec.name;
      const current = get()[spec.name];
      const at = `${fn}: ${path}`;
      const bad = (label: string, value: unknown, kind: typeof TypeError | typeof RangeError, fragments: string[], buffer = false): void => {
        cases.push({ label: `${path} ${label}`, args: set(valid, spec.name, value), kind, fragments: [at, ...fragments], buffer });
      };
      switch (spec.kind) {
        case 'array': {
          if (!ArrayBuffer.isView(current) || !('length' in current) || typeof current.length !== 'number') throw new Error(`${at}: no valid array`);
          const n = current.length;
          if (spec.length !== undefined) bad('wrong length', sameType(current, n + 1), TypeError, [String(n + 1), String(n)], true);
          bad('wrong dtype', otherArray(current), TypeError, [current.constructor.name], true);
          if (!spec.nullable) bad('null', null, TypeError, []);
          if (spec.each !== undefined) {
            const out = new Int32Array(n);
            out[n - 1] = spec.each.min - 1;
            bad('out of range', out, RangeError, [`${path}[${n - 1}]`]);
          }
          break;
        }
        case 'int':
          bad('zero', 0, TypeError, ['positive integer']);
          bad('fractional', 2.5, TypeError, ['2.5']);
          if (typeof spec.multipleOf === 'number') bad('not a multiple', 3 * spec.multipleOf - 1, TypeError, [String(3 * spec.multipleOf - 1)]);
          break;
        case 'number':
          bad('string', '1', TypeError, ['number']);
          bad('out of range', NUMBER_BAD[spec.rule], RangeError, []);
          break;
        case 'enum':
          bad('unknown value', 'e3m4', TypeError, ["'e3m4'", `'${spec.values[0]}'`]);
          break;
        case 'bool':
          bad('not a boolean', 1, TypeError, ['boolean']);
          break;
        case 'struct': {
          bad('not an object', 7, TypeError, [spec.type]);
          const struct = current;
          if (typeof struct !== 'object' || struct === null) throw new Error(`${at}: no valid struct`);
          walk(spec.fields, () => ({ ...struct }), (args, name, value) => set(args, spec.name, { ...struct, [name]: value }), `${path}.`);
          break;
        }
        case 'floatsOrStruct': {
          // The float alternative's cases, then the struct alternative's, from a valid struct.
          walk([spec.floats], get, set, prefix);
          const struct: Record<string, unknown> = {};
          validLevel(spec.struct.fields, get(), struct, (n) => new Float32Array(n));
          walk(spec.struct.fields, () => ({ ...struct }), (args, name, value) => set(args, spec.name, { ...struct, [name]: value }), `${path}.`);
          break;
        }
      }
    }
  };
  const names = signature.args.map((s) => s.name);
  walk(signature.args, () => Object.fromEntries(names.map((n, i) => [n, valid[i]])), (args, name, value) => args.map((v, i) => (names[i] === name ? value : v)), '');
  return cases;
}

function assertThrowsNaming(fn: () => unknown, kind: typeof TypeError | typeof RangeError, fragments: string[], label: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof kind, `${label}: expected ${kind.name}, got ${String(error)}`);
    for (const fragment of fragments) assert.ok(error.message.includes(fragment), `${label}: message "${error.message}" lacks "${fragment}"`);
    return true;
  }, label);
}

function call(k: Kernels<FloatArray>, name: KernelFunctionName, args: Args): unknown {
  return Reflect.apply(k[name], k, args);
}

test('the signature table names exactly the kernel functions of the Kernels interface (alloc aside)', async () => {
  const functionsOf = (k: object): string[] => Object.keys(k).filter((key) => typeof Reflect.get(k, key) === 'function' && key !== 'alloc').sort();
  const table = [...KERNEL_NAMES].sort();
  assert.deepEqual(functionsOf(createReferenceKernels()), table);
  for (const k of await backends()) assert.deepEqual(functionsOf(k), table, k.name);
  // Arity: the reference implementations declare every argument of the table (defaults included).
  const reference = createReferenceKernels();
  for (const name of KERNEL_NAMES) assert.equal(reference[name].length <= KERNEL_SIGNATURES[name].args.length, true, name);
});

test('every function: valid arguments from the table pass; each bad argument throws a TypeError / RangeError naming it', async (t) => {
  const list: Kernels<FloatArray>[] = [...(await backends()), withValidation(createReferenceKernels('float64'))];
  for (const k of list) {
    await t.test(`${k.name} ${k.precision}`, () => {
      let count = 0;
      for (const name of KERNEL_NAMES) {
        const signature: KernelSignature = KERNEL_SIGNATURES[name];
        const valid = validArgs(signature, (n) => k.alloc(n));
        assert.doesNotThrow(() => call(k, name, valid), `${name} with valid arguments`);
        for (const args of validAlternatives(signature, valid)) assert.doesNotThrow(() => call(k, name, args), `${name} with FP8-code arguments`);
        // Nullable and optional arguments may be null / left out.
        for (const [i, spec] of signature.args.entries()) {
          if (spec.nullable) assert.doesNotThrow(() => call(k, name, valid.map((v, j) => (j === i ? null : v))), `${name}: ${spec.name} = null`);
          if (spec.optional) assert.doesNotThrow(() => call(k, name, valid.map((v, j) => (j === i ? undefined : v))), `${name}: ${spec.name} left out`);
        }
        const cases = badCases(name, signature, valid);
        // Every array argument has a wrong-dtype case, every length expression a wrong-length one.
        assert.ok(cases.some((c) => c.label.endsWith('wrong dtype')), `${name} has a wrong-dtype case`);
        for (const c of cases) assertThrowsNaming(() => call(k, name, c.args), c.kind, c.fragments, `${name}: ${c.label}`);
        count += cases.length;
      }
      t.diagnostic(`${k.name} ${k.precision}: ${count} bad arguments over ${KERNEL_NAMES.length} functions`);
    });
  }
});

test('the float arrays must be the backend precision’s own type', () => {
  const k64 = withValidation(createReferenceKernels('float64'));
  assertThrowsNaming(() => Reflect.apply(k64.geluForward, k64, [new Float64Array(2), new Float32Array(2)]), TypeError, ['geluForward: y', 'Float64Array'], 'float64 backend');
});

const nativeModule = await import('../../src/kernels/native.js').catch((error: unknown) => String(error));
const rawSkip = nativeUnavailableReason !== null || typeof nativeModule === 'string' ? `native addon unavailable: ${nativeUnavailableReason ?? String(nativeModule)}` : false;

test('raw addon (no withValidation): every wrong buffer length or type of every function throws a TypeError, never crashes', { skip: rawSkip }, (t) => {
  if (typeof nativeModule === 'string') return;
  const addon = nativeModule.loadNativeAddon();
  const raw = (name: KernelFunctionName, args: Args): unknown => Reflect.apply(Reflect.get(addon, name), addon, nativeModule.addonArguments(name, args));
  let count = 0;
  for (const name of KERNEL_NAMES) {
    const signature: KernelSignature = KERNEL_SIGNATURES[name];
    const valid = validArgs(signature, (n) => new Float32Array(n));
    assert.doesNotThrow(() => raw(name, valid), `${name} with valid arguments`);
    for (const args of validAlternatives(signature, valid)) assert.doesNotThrow(() => raw(name, args), `${name} with FP8-code arguments`);
    for (const c of badCases(name, signature, valid).filter((b) => b.buffer)) {
      assertThrowsNaming(() => raw(name, c.args), TypeError, [name], `raw ${name}: ${c.label}`);
      count++;
    }
  }
  // RoPE's marshalled argument: the frequency table must hold D/2 float64 values.
  const rope = Reflect.get(addon, 'ropeForward');
  const x = new Float32Array(8);
  assertThrowsNaming(() => Reflect.apply(rope, addon, [x, x, 1, 1, 2, 4, new Float64Array(1)]), TypeError, ['ropeForward: frequencies'], 'raw rope frequencies');
  assertThrowsNaming(() => Reflect.apply(rope, addon, [x, x, 1, 1, 2, 4, new Float32Array(2)]), TypeError, ['ropeForward: frequencies'], 'raw rope frequencies dtype');
  t.diagnostic(`raw addon: ${count} bad buffers refused`);
});

test('withValidation(native).threads and .isa are live: setThreads / setIsa after wrapping, and loadKernelBackend(--threads N)', { skip: rawSkip }, async () => {
  if (typeof nativeModule === 'string') return;
  const addon = nativeModule.loadNativeAddon();
  const wrapped = withValidation(nativeModule.loadNativeKernels());
  const saved = addon.threads();
  const savedIsa = addon.isa();
  try {
    for (const n of [1, 3]) {
      addon.setThreads(n);
      assert.equal(wrapped.threads, n);
    }
    addon.setIsa('scalar');
    assert.equal(wrapped.isa, 'scalar');
    const { loadKernelBackend } = await import('../../src/train/kernel-backend.js');
    const k = await loadKernelBackend('native', 2, 'off');
    assert.equal(k.threads, 2);
  } finally {
    addon.setThreads(saved);
    addon.setIsa(savedIsa);
  }
});
