import type { FloatArray, KernelPrecision, Kernels } from './types.js';
import { KERNEL_NAMES, KERNEL_SIGNATURES, type ArgSpec, type ArrayDtype, type KernelFunctionName, type NumberRule } from './signatures.js';

/**
 * Argument checking for any Kernels backend, driven by the signature table (signatures.ts):
 * withValidation(k) checks every length, shape, format and dtype before calling k, so backends
 * (the native addon in particular) never see bad sizes:
 * - wrong array type (float tensors must be the backend's own: Float32Array, or Float64Array in the
 *   reference backend's float64 mode), wrong length, non-positive or non-integer dimension, unknown
 *   format or dtype, Hq not a multiple of Hkv, odd RoPE head size → TypeError naming the argument,
 *   its value and what was expected;
 * - a number out of its range (scale ≤ 0 or not finite as a float32, a non-finite alpha, beta,
 *   eps, theta or softmax scale, an AdamW β outside [0, 1), a target outside [−1, V)) → RangeError,
 *   also naming the argument.
 * `isa` and `threads` are read from k on every access (the native backend's change after wrapping:
 * setIsa, setThreads, `--threads N`).
 */
export function withValidation<Buf extends FloatArray>(k: Kernels<Buf>): Kernels<Buf> {
  if (k.precision !== 'float32' && k.precision !== 'float64') {
    throw new TypeError(`withValidation: kernels.precision must be 'float32' or 'float64', got ${describe(k.precision)}`);
  }
  const Floats = FLOAT_ARRAY[k.precision];
  return {
    ...checkedFunctions(k, Floats),
    name: k.name,
    precision: k.precision,
    alloc(n) {
      if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`alloc: n must be a non-negative integer, got ${describe(n)}`);
      return k.alloc(n);
    },
    get isa() {
      return k.isa;
    },
    get threads() {
      return k.threads;
    },
    get workspaceBytes() {
      return k.workspaceBytes;
    },
  };
}

function checkedFunctions<Buf extends FloatArray>(k: Kernels<Buf>, Floats: FloatArrayConstructor): Pick<Kernels<Buf>, KernelFunctionName> {
  const checked: Partial<Record<KernelFunctionName, (...args: never[]) => unknown>> = {};
  for (const name of KERNEL_NAMES) {
    const check = CHECKS[name];
    const fn: (...args: never[]) => unknown = k[name];
    checked[name] = (...args: never[]) => {
      check(args, Floats);
      return Reflect.apply(fn, k, args);
    };
  }
  // Every name of the table is set above, and the table's names are exactly the kernel functions (signatures.ts).
  return checked as Pick<Kernels<Buf>, KernelFunctionName>;
}

// ---- compiling the table into checks --------------------------------------------------------------

type FloatArrayConstructor = Float32ArrayConstructor | Float64ArrayConstructor;
type TypedArrayConstructor = FloatArrayConstructor | Uint8ArrayConstructor | Uint16ArrayConstructor | Int32ArrayConstructor;

const FLOAT_ARRAY: Record<KernelPrecision, FloatArrayConstructor> = { float32: Float32Array, float64: Float64Array };
const FIXED_ARRAY: Record<Exclude<ArrayDtype, 'float' | 'floatOrBf16'>, TypedArrayConstructor> = { u8: Uint8Array, u16: Uint16Array, i32: Int32Array, f64: Float64Array };

/** What a check needs besides the value: the function (for messages), all its arguments (for length expressions), the float type. */
interface Call {
  readonly fn: string;
  readonly args: readonly unknown[];
  readonly Floats: FloatArrayConstructor;
}

/** Checks one value; `container` holds its siblings (the argument list, or the struct it is a field of). */
type Check = (value: unknown, call: Call, container: Container) => void;
/** The argument list or a struct: read by index or field name. */
type Container = Readonly<Record<string, unknown>>;

function isContainer(value: unknown): value is Container {
  return typeof value === 'object' && value !== null;
}
/** Where a sibling sits in its container: an argument's index, or a field's name. */
type Key = number | string;

/** A length expression compiled against a signature's argument names. */
interface Expression {
  readonly text: string;
  readonly factors: readonly ((args: readonly unknown[]) => number)[];
}

function compileTable(): Record<KernelFunctionName, (args: readonly unknown[], Floats: FloatArrayConstructor) => void> {
  const checks: Partial<Record<KernelFunctionName, (args: readonly unknown[], Floats: FloatArrayConstructor) => void>> = {};
  for (const name of KERNEL_NAMES) checks[name] = compileSignature(name, KERNEL_SIGNATURES[name].args);
  // compileSignature ran for every name of the table, which are exactly the kernel functions.
  return checks as Record<KernelFunctionName, (args: readonly unknown[], Floats: FloatArrayConstructor) => void>;
}

/**
 * The arguments that length expressions (or index bounds) refer to are checked first, so that an
 * expression only ever reads validated dimensions; then the rest in call order.
 */
function compileSignature(fn: string, specs: readonly ArgSpec[]): (args: readonly unknown[], Floats: FloatArrayConstructor) => void {
  const index = new Map(specs.map((spec, i) => [spec.name, i]));
  if (index.size !== specs.length) throw new Error(`signatures: ${fn} names an argument twice`);
  const expression = (text: string): Expression => compileExpression(fn, text, index);
  const referenced = new Set<string>();
  collectReferences(specs, referenced);
  const order = [...specs.keys()].sort((a, b) => Number(!referenced.has(specs[a].name)) - Number(!referenced.has(specs[b].name)));
  const level = compileLevel(fn, specs, '', (name) => {
    const i = index.get(name);
    if (i === undefined) throw new Error(`signatures: ${fn} refers to an unknown argument '${name}'`);
    return i;
  }, expression, order);
  return (args, Floats) => {
    if (isContainer(args)) level(args, { fn, args, Floats });
  };
}

function collectReferences(specs: readonly ArgSpec[], into: Set<string>): void {
  for (const spec of specs) {
    if (spec.kind === 'array') {
      if (spec.length !== undefined) for (const name of rootNames(spec.length)) into.add(name);
      if (spec.each !== undefined) for (const name of rootNames(spec.each.below)) into.add(name);
    }
    if (spec.kind === 'struct') collectReferences(spec.fields, into);
    if (spec.kind === 'floatsOrStruct') collectReferences([spec.floats, spec.struct], into);
  }
}

function factorsOf(text: string): string[] {
  return text.split(/[·*]/).map((f) => f.trim());
}

function rootNames(text: string): string[] {
  return factorsOf(text).filter((f) => !/^\d+$/.test(f)).map((f) => f.split('.')[0]);
}

function compileExpression(fn: string, text: string, index: ReadonlyMap<string, number>): Expression {
  const factors = factorsOf(text).map((factor): ((args: readonly unknown[]) => number) => {
    if (/^\d+$/.test(factor)) {
      const n = Number(factor);
      return () => n;
    }
    const [root, field, ...rest] = factor.split('.');
    const i = index.get(root);
    if (i === undefined || rest.length > 0) throw new Error(`signatures: ${fn}: length expression '${text}' refers to an unknown argument '${factor}'`);
    if (field === undefined) return (args) => Number(args[i]);
    return (args) => {
      const struct = args[i];
      return isContainer(struct) ? Number(struct[field]) : NaN;
    };
  });
  return { text: factorsOf(text).join('·'), factors };
}

function evaluate(e: Expression, args: readonly unknown[]): number {
  let n = 1;
  for (const factor of e.factors) n *= factor(args);
  return n;
}

/** "R·C = 2·3 = 6", or "C = 3" for a single factor. */
function showExpression(e: Expression, args: readonly unknown[], value: number): string {
  return e.factors.length === 1 ? `${e.text} = ${value}` : `${e.text} = ${e.factors.map((f) => f(args)).join('·')} = ${value}`;
}

/**
 * One level of specs (a signature's arguments or a struct's fields): each value's own checks in
 * `order`, then the checks relating siblings (multiple of, greater than).
 */
function compileLevel(
  fn: string, specs: readonly ArgSpec[], prefix: string, sibling: (name: string) => Key, expression: (text: string) => Expression,
  order: readonly number[] = [...specs.keys()],
): (container: Container, call: Call) => void {
  const keys = order.map((i) => sibling(specs[i].name));
  const checks = order.map((i) => compileSpec(fn, specs[i], prefix + specs[i].name, sibling, expression));
  const relations = specs.flatMap((spec) => compileRelations(spec, prefix, sibling));
  return (container, call) => {
    for (let i = 0; i < checks.length; i++) checks[i](container[keys[i]], call, container);
    for (let i = 0; i < relations.length; i++) relations[i](container, call);
  };
}

function compileSpec(fn: string, spec: ArgSpec, path: string, sibling: (name: string) => Key, expression: (text: string) => Expression): Check {
  const base = compileKind(fn, spec, path, sibling, expression);
  const { nullable = false, optional = false } = spec;
  if (!nullable && !optional) return base;
  return (value, call, container) => {
    if ((value === null && nullable) || (value === undefined && optional)) return;
    base(value, call, container);
  };
}

function noteText(note: string | undefined): string {
  return note === undefined ? '' : ` (${note})`;
}

function compileKind(fn: string, spec: ArgSpec, path: string, sibling: (name: string) => Key, expression: (text: string) => Expression): Check {
  const orNull = spec.nullable ? ' or null' : '';
  const note = noteText(spec.note);
  switch (spec.kind) {
    case 'array': {
      const { dtype } = spec;
      const length = spec.length === undefined ? undefined : expression(spec.length);
      const below = spec.each === undefined ? undefined : expression(spec.each.below);
      const min = spec.each?.min ?? 0;
      const fixed = typeof dtype !== 'string' ? undefined : dtype;
      const selector = typeof dtype === 'string' ? undefined : { key: sibling(dtype.field), field: dtype.field, map: dtype.map };
      const ctorOf = (d: ArrayDtype, call: Call): TypedArrayConstructor => (d === 'float' || d === 'floatOrBf16' ? call.Floats : FIXED_ARRAY[d]);
      return (value, call, container) => {
        let ctor: TypedArrayConstructor;
        let forDtype = '';
        if (fixed !== undefined) {
          ctor = ctorOf(fixed, call);
        } else if (selector !== undefined) {
          const chosen = String(container[selector.key]);
          ctor = ctorOf(selector.map[chosen], call);
          forDtype = ` for ${selector.field} '${chosen}'`;
        } else {
          throw new Error('unreachable: an array spec has a dtype or a selector');
        }
        if (fixed === 'floatOrBf16' && value instanceof Uint16Array) {
          // BF16 bits stand in for the float values
        } else if (!(value instanceof ctor)) {
          const bits = fixed === 'floatOrBf16' ? ' or a Uint16Array of BF16 bits' : '';
          throw new TypeError(`${call.fn}: ${path} must be a ${ctor.name}${bits}${forDtype}${orNull}, got ${describe(value)}`);
        }
        if (length !== undefined) {
          const n = evaluate(length, call.args);
          if (value.length !== n) throw new TypeError(`${call.fn}: ${path} has length ${value.length}, expected ${showExpression(length, call.args, n)}`);
        }
        if (below !== undefined) {
          const end = evaluate(below, call.args);
          for (let i = 0; i < value.length; i++) {
            if (value[i] < min || value[i] >= end) {
              throw new RangeError(`${call.fn}: ${path}[${i}] = ${value[i]} must be in [${min}, ${showExpression(below, call.args, end)})${note}`);
            }
          }
        }
      };
    }
    case 'int': {
      const { multipleOf } = spec;
      return (value, call) => {
        if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
          throw new TypeError(`${call.fn}: ${path} must be a positive integer${note}${orNull}, got ${describe(value)}`);
        }
        if (typeof multipleOf === 'number' && value % multipleOf !== 0) {
          throw new TypeError(`${call.fn}: ${path} must be ${multipleOf === 2 ? 'even' : `a multiple of ${multipleOf}`}${note}, got ${value}`);
        }
      };
    }
    case 'number': {
      const allowed = NUMBER_RULES[spec.rule];
      return (value, call) => {
        if (typeof value !== 'number') throw new TypeError(`${call.fn}: ${path} must be a number${orNull}, got ${describe(value)}`);
        if (!Number.isFinite(value)) throw new RangeError(`${call.fn}: ${path} must be finite, got ${value}`);
        if (!allowed.test(value)) throw new RangeError(`${call.fn}: ${path} must be ${allowed.text(path)}${note}, got ${value}`);
      };
    }
    case 'enum': {
      const { values } = spec;
      const quoted = values.map((v) => `'${v}'`);
      const allowed = quoted.length === 2 ? `${quoted[0]} or ${quoted[1]}` : `one of ${quoted.join(', ')}`;
      return (value, call) => {
        if (typeof value !== 'string' || !values.includes(value)) throw new TypeError(`${call.fn}: ${path} must be ${allowed}${orNull}, got ${describe(value)}`);
      };
    }
    case 'bool':
      return (value, call) => {
        if (typeof value !== 'boolean') throw new TypeError(`${call.fn}: ${path} must be a boolean${orNull}, got ${describe(value)}`);
      };
    case 'floatsOrStruct': {
      // A typed array is checked as the float alternative, anything else as the struct.
      const asFloats = compileKind(fn, spec.floats, path, sibling, expression);
      const asStruct = compileKind(fn, spec.struct, path, sibling, expression);
      const article = /^[AEIOU]/.test(spec.struct.type) ? 'an' : 'a';
      return (value, call, container) => {
        if (ArrayBuffer.isView(value) && !(value instanceof call.Floats)) {
          throw new TypeError(`${call.fn}: ${path} must be a ${call.Floats.name} or ${article} ${spec.struct.type} object${orNull}, got ${describe(value)}`);
        }
        (ArrayBuffer.isView(value) ? asFloats : asStruct)(value, call, container);
      };
    }
    case 'struct': {
      const alternatives = `${spec.nullable ? 'null or ' : ''}${spec.optional ? 'undefined or ' : ''}`;
      const article = /^[AEIOU]/.test(spec.type) ? 'an' : 'a';
      const fields = compileLevel(fn, spec.fields, `${path}.`, (name) => {
        if (!spec.fields.some((f) => f.name === name)) throw new Error(`signatures: ${fn}: ${path} has no field '${name}'`);
        return name;
      }, expression);
      return (value, call) => {
        if (!isContainer(value) || Array.isArray(value) || ArrayBuffer.isView(value)) {
          throw new TypeError(`${call.fn}: ${path} must be ${alternatives}${article} ${spec.type} object, got ${describe(value)}`);
        }
        fields(value, call);
      };
    }
  }
}

/** Checks between siblings: an int that must be a multiple of a sibling, a number that must exceed one. */
function compileRelations(spec: ArgSpec, prefix: string, sibling: (name: string) => Key): ((container: Container, call: Call) => void)[] {
  const self = sibling(spec.name);
  const path = prefix + spec.name;
  if (spec.kind === 'int' && typeof spec.multipleOf === 'string') {
    const other = sibling(spec.multipleOf);
    const otherPath = prefix + spec.multipleOf;
    return [(container, call) => {
      const v = container[self];
      const m = container[other];
      if (typeof v === 'number' && typeof m === 'number' && v % m !== 0) throw new TypeError(`${call.fn}: ${path} = ${v} must be a multiple of ${otherPath} = ${m}`);
    }];
  }
  if (spec.kind === 'number' && spec.greaterThan !== undefined) {
    const other = sibling(spec.greaterThan);
    const otherPath = prefix + spec.greaterThan;
    return [(container, call) => {
      const v = container[self];
      const m = container[other];
      if (typeof v === 'number' && typeof m === 'number' && !(v > m)) throw new RangeError(`${call.fn}: ${path} (${v}) must be > ${otherPath} (${m})`);
    }];
  }
  return [];
}

const NUMBER_RULES: Record<NumberRule, { test: (v: number) => boolean; text: (path: string) => string }> = {
  finite: { test: () => true, text: () => 'finite' },
  nonNegative: { test: (v) => v >= 0, text: () => '≥ 0' },
  positive: { test: (v) => v > 0, text: () => '> 0' },
  // A scale is used as a float32: it must stay finite and non-zero after rounding.
  scale: { test: (v) => Math.fround(v) > 0 && Number.isFinite(Math.fround(v)), text: (path) => `a positive finite float32 (0 < ${path} ≤ 3.4028235e38)` },
  fraction: { test: (v) => v >= 0 && v < 1, text: () => 'in [0, 1)' },
  atLeastOne: { test: (v) => v >= 1, text: () => '≥ 1' },
  index: { test: (v) => Number.isSafeInteger(v) && v >= 0, text: () => 'an integer ≥ 0' },
};

/** A short description of a value for error messages (never dumps a whole array). */
function describe(value: unknown): string {
  if (ArrayBuffer.isView(value)) {
    const length = 'length' in value && typeof value.length === 'number' ? value.length : value.byteLength;
    return `${value.constructor.name}(${length})`;
  }
  if (typeof value === 'string') return `'${value}'`;
  if (value === null || value === undefined || typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value === 'object' ? `an object of type ${value.constructor?.name ?? 'Object'}` : typeof value;
}

/** The table compiled once, at load (after the constants above it reads). */
const CHECKS = compileTable();
