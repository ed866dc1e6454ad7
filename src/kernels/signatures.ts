/**
 * The kernel surface as data: one row per `Kernels` function (types.ts), one entry per argument —
 * its kind and element type, its length as an expression over the other arguments, whether it may
 * be null or left out, and the values it allows. `withValidation` (validate.ts) checks every call
 * against this table and the native backend (native.ts) forwards and marshals from it; the C++
 * addon only re-checks what keeps memory safe (buffer types and the lengths it reads and writes).
 *
 * Adding an argument or a function is one line here (plus the method in types.ts and the
 * backends); the compile-time check at the bottom fails until table and interface agree.
 *
 * Length expressions are products of factors joined by '·' (or '*'): an integer, the name of a
 * positive-integer argument (`R`), a field of a struct argument (`shape.Hq`) or the length of an
 * array argument (`x.length`). Error messages quote the expression with its values.
 */
import type {
  AdamWParams, AttentionForwardOptions, AttentionFp8Scales, AttentionShape, Fp8Codes, Fp8FormatName, FusedCast, GemmOperand, Kernels, OperandDtype, RopeScaling,
  XieluParams,
} from './types.js';

/**
 * Element type of an array: 'float' is the backend's float buffer (Float32Array, or Float64Array in
 * float64 mode); 'floatOrBf16' that or a Uint16Array of BF16 bits (an activation's input).
 */
export type ArrayDtype = 'float' | 'floatOrBf16' | 'u8' | 'u16' | 'i32' | 'f64';

/**
 * What a number must be. 'finite'; 'nonNegative' (finite, ≥ 0); 'positive' (finite, > 0);
 * 'scale' (finite, and positive and finite after rounding to float32); 'fraction' (in [0, 1));
 * 'atLeastOne' (finite, ≥ 1); 'index' (an integer ≥ 0, e.g. a column offset).
 */
export type NumberRule = 'finite' | 'nonNegative' | 'positive' | 'scale' | 'fraction' | 'atLeastOne' | 'index';

interface SpecBase {
  readonly name: string;
  /** null is allowed (then nothing else is checked). */
  readonly nullable?: boolean;
  /** undefined (a left-out argument or field) is allowed. */
  readonly optional?: boolean;
  /** Why, appended to the error message in parentheses. */
  readonly note?: string;
}

/** A typed array. `dtype` may be chosen by a sibling enum field (a GEMM operand's data by its dtype). */
export interface ArraySpec extends SpecBase {
  readonly kind: 'array';
  readonly dtype: ArrayDtype | { readonly field: string; readonly map: Readonly<Record<string, ArrayDtype>> };
  /** Length expression; absent: any length (the array then usually sets a length others refer to). */
  readonly length?: string;
  /** Every element must lie in [min, below) (an integer array of indices). */
  readonly each?: { readonly min: number; readonly below: string };
}

/** A positive integer (a dimension, a count, an id). `multipleOf` an integer or a sibling's name. */
export interface IntSpec extends SpecBase {
  readonly kind: 'int';
  readonly multipleOf?: number | string;
}

/** A number obeying `rule`; `greaterThan` names a sibling it must exceed. */
export interface NumberSpec extends SpecBase {
  readonly kind: 'number';
  readonly rule: NumberRule;
  readonly greaterThan?: string;
}

/** One of a fixed set of strings. */
export interface EnumSpec extends SpecBase {
  readonly kind: 'enum';
  readonly values: readonly string[];
}

export interface BoolSpec extends SpecBase {
  readonly kind: 'bool';
}

/** A plain object (`type` names its TS interface in messages) whose fields are specs. */
export interface StructSpec extends SpecBase {
  readonly kind: 'struct';
  readonly type: string;
  readonly fields: readonly ArgSpec[];
}

/**
 * Either a float array or an object standing for one (attention's inputs: the float buffer or its
 * FP8 codes, types.ts Fp8Codes); which alternative is checked follows the value (a typed array or not).
 */
export interface FloatsOrStructSpec extends SpecBase {
  readonly kind: 'floatsOrStruct';
  readonly floats: ArraySpec;
  readonly struct: StructSpec;
}

export type ArgSpec = ArraySpec | IntSpec | NumberSpec | EnumSpec | BoolSpec | StructSpec | FloatsOrStructSpec;

/**
 * How the native backend turns a call into the addon's arguments, when not unchanged:
 * 'ropeFrequencies' replaces (theta, scaling) by the float64 frequency table ropeFrequencies(D, theta, scaling).
 */
export type Marshal = 'ropeFrequencies';

export interface KernelSignature {
  readonly args: readonly ArgSpec[];
  readonly marshal?: Marshal;
}

// ---- builders ------------------------------------------------------------------------------------
// Generic in the name so that the table's type keeps literal names, which the checks against the
// interfaces of types.ts (bottom of the file, and `struct`) read.

type Extra<S extends ArgSpec> = Partial<Omit<S, 'kind' | 'name'>>;
type Named<S extends ArgSpec, N extends string> = S & { readonly name: N };

const array = <N extends string>(name: N, dtype: ArraySpec['dtype'], length?: string, extra: Extra<ArraySpec> = {}): Named<ArraySpec, N> => ({ kind: 'array', name, dtype, length, ...extra });
type Typed<N extends string, D extends ArrayDtype> = Omit<ArraySpec, 'name' | 'dtype'> & { readonly name: N; readonly dtype: D };
const typed = <D extends ArrayDtype>(dtype: D) => <N extends string>(name: N, length?: string): Typed<N, D> => ({ kind: 'array', name, dtype, length });
const floats = typed('float');
const floatsOrBf16 = typed('floatOrBf16');
const u8 = typed('u8');
const u16 = typed('u16');
const f64 = typed('f64');
const int = <N extends string>(name: N, extra: Extra<IntSpec> = {}): Named<IntSpec, N> => ({ kind: 'int', name, ...extra });
const num = <N extends string>(name: N, rule: NumberRule, extra: Extra<NumberSpec> = {}): Named<NumberSpec, N> => ({ kind: 'number', name, rule, ...extra });
const bool = <N extends string>(name: N): Named<BoolSpec, N> => ({ kind: 'bool', name });
const nullable = <S extends ArgSpec>(spec: S): S & { readonly nullable: true } => ({ ...spec, nullable: true });
const optional = <S extends ArgSpec>(spec: S): S & { readonly optional: true } => ({ ...spec, optional: true });

/** `Names` must be exactly the union `Of` (no name missing, none unknown); else a type naming the difference. */
type Exactly<Of extends string, Names extends string> =
  [Exclude<Of, Names>, Exclude<Names, Of>] extends [never, never] ? unknown : { missing: Exclude<Of, Names>; unknown: Exclude<Names, Of> };

/** One of a fixed set of strings; `values` must list exactly the string union U of types.ts. */
const oneOf = <U extends string>() => <N extends string, const V extends readonly string[]>(name: N, values: V & Exactly<U, V[number]>): Named<EnumSpec, N> =>
  ({ kind: 'enum', name, values });

/** The interfaces of types.ts that arguments are objects of, by the name messages use. */
interface StructTypes {
  GemmOperand: GemmOperand;
  Fp8Codes: Fp8Codes;
  RopeScaling: RopeScaling;
  AttentionShape: AttentionShape;
  AttentionFp8Scales: AttentionFp8Scales;
  AttentionForwardOptions: AttentionForwardOptions;
  XieluParams: XieluParams;
  FusedCast: FusedCast;
  AdamWParams: AdamWParams;
}
type FieldName<T extends keyof StructTypes> = Extract<keyof StructTypes[T], string>;

/** An object argument of interface `type`: `fields` must name exactly that interface's properties (compile-time). */
const struct = <N extends string, T extends keyof StructTypes, const F extends readonly ArgSpec[]>(
  name: N, type: T, fields: F & Exactly<FieldName<T>, F[number]['name']>,
): Named<StructSpec, N> => ({ kind: 'struct', name, type, fields });

/** Like struct, for a kernel that reads only some of the interface's fields. */
const someOf = <N extends string, T extends keyof StructTypes>(name: N, type: T, fields: readonly (ArgSpec & { readonly name: FieldName<T> })[]): Named<StructSpec, N> =>
  ({ kind: 'struct', name, type, fields });

// ---- shared argument shapes ------------------------------------------------------------------------

const format = oneOf<Fp8FormatName>()('format', ['e4m3', 'e5m2']);

/** A GEMM operand (GemmOperand) of `length` elements; the array type of `data` follows `dtype`. */
const operand = <N extends string>(name: N, length: string) => struct(name, 'GemmOperand', [
  oneOf<OperandDtype>()('dtype', ['f32', 'bf16', 'e4m3', 'e5m2']),
  array('data', { field: 'dtype', map: { f32: 'float', bf16: 'u16', e4m3: 'u8', e5m2: 'u8' } }, length),
  bool('trans'),
  optional(num('invScale', 'scale')),
  optional(int('frozen', { note: 'an id of unchanging data' })),
]);

const ropeScaling = optional(nullable(struct('scaling', 'RopeScaling', [
  num('factor', 'atLeastOne'),
  num('lowFreqFactor', 'positive'),
  num('highFreqFactor', 'positive', { greaterThan: 'lowFreqFactor' }),
  num('originalContext', 'positive'),
])));

/**
 * The optional last argument of the kernels that can round their float output to BF16 as they
 * write it (types.ts `roundBf16`).
 */
const roundFlag = optional(bool('roundBf16'));

/** RoPE's (input, output, B, T, H, D, theta, scaling, roundBf16). */
const rope = (input: string, output: string) => ({
  args: [
    floats(input, 'B·T·H·D'), floats(output, 'B·T·H·D'), int('B'), int('T'), int('H'),
    int('D', { multipleOf: 2, note: 'rotate-half pairs (i, i + D/2)' }), num('theta', 'positive'), ropeScaling, roundFlag,
  ] as const,
  marshal: 'ropeFrequencies' as const,
});

const attentionShape = struct('shape', 'AttentionShape', [
  int('B'), int('T'), int('Hq', { multipleOf: 'Hkv' }), int('Hkv'), int('D'), num('softmaxScale', 'finite'),
  optional(bool('bf16Operands')),
]);
/** (B, T, Hq, D) and (B, T, Hkv, D) tensors and the (B, Hq, T) log-sum-exp of attention. */
const Q_LENGTH = 'shape.B·shape.T·shape.Hq·shape.D';
const KV_LENGTH = 'shape.B·shape.T·shape.Hkv·shape.D';
const qHeads = <N extends string>(name: N) => floats(name, Q_LENGTH);
const kvHeads = <N extends string>(name: N) => floats(name, KV_LENGTH);
/** An attention input (types.ts AttentionInput): floats, or FP8 codes (Fp8Codes) of the same length. */
const input = <N extends string>(name: N, length: string): Named<FloatsOrStructSpec, N> => ({
  kind: 'floatsOrStruct',
  name,
  floats: floats(name, length),
  struct: struct(name, 'Fp8Codes', [format, u8('data', length), optional(num('invScale', 'scale'))]),
});
const qInput = <N extends string>(name: N) => input(name, Q_LENGTH);
const kvInput = <N extends string>(name: N) => input(name, KV_LENGTH);
const attentionLse = floats('lse', 'shape.B·shape.Hq·shape.T');

/** AttentionFp8Scales, one line per field: its check, and whether the forward reads it (the backward reads all). */
const FP8_SCALE_FIELDS = [
  { spec: num('p', 'scale'), forward: true },
  { spec: num('ds', 'scale'), forward: false },
  { spec: optional(num('qkvInv', 'scale')), forward: true },
  { spec: optional(num('doInv', 'scale')), forward: false },
] as const;
const fp8Scales = (pass: 'forward' | 'backward') =>
  nullable(someOf('fp8', 'AttentionFp8Scales', FP8_SCALE_FIELDS.filter((f) => pass === 'backward' || f.forward).map((f) => f.spec)));

/** Cross-entropy targets (R): a class index of the row's logits, or −1. */
const tokens: Typed<'tokens', 'i32'> = { ...typed('i32')('tokens', 'R'), each: { min: 0, below: 'V' } };
const targets: Typed<'targets', 'i32'> = { ...typed('i32')('targets', 'R'), each: { min: -1, below: 'V' }, note: '−1: an ignored row' };

/** An activation's optional fused FP8 cast of its float output (FusedCast) of `length` codes. */
const fusedCast = (length: string) => optional(nullable(struct('cast', 'FusedCast', [format, num('scale', 'scale'), u8('codes', length)])));

const xieluParams = struct('p', 'XieluParams', [num('alphaP', 'finite'), num('alphaN', 'finite'), num('beta', 'finite'), num('eps', 'finite')]);

// ---- the table -----------------------------------------------------------------------------------

/** Every kernel function of `Kernels`, its arguments in call order. */
export const KERNEL_SIGNATURES = {
  quantize: { args: [floats('x'), format, num('scale', 'scale'), u8('codes', 'x.length')] },
  quantizeColumns: {
    args: [floats('x', 'R·cols'), format, num('scale', 'scale'), u8('codes', 'R·codesCols'), int('codesCols'), num('codesCol0', 'index'), int('R'), int('cols')],
  },
  dequantize: { args: [u8('codes'), format, num('invScale', 'scale'), floats('out', 'codes.length'), roundFlag] },
  quantizeDequantize: { args: [floats('x'), format, num('scale', 'scale'), floats('out', 'x.length'), roundFlag] },
  roundBf16: { args: [floats('x'), floats('out', 'x.length')] },
  packBf16: { args: [floats('x'), u16('bits', 'x.length')] },
  unpackBf16: { args: [u16('bits'), floats('out', 'bits.length')] },

  gemm: {
    args: [
      int('M'), int('N'), int('K'), operand('a', 'M·K'), operand('b', 'K·N'), floats('c', 'M·N'),
      optional(num('alpha', 'finite')), optional(num('beta', 'finite')), roundFlag,
    ],
  },

  rmsnormForward: {
    args: [
      floats('x', 'R·C'), nullable(floats('gain', 'C')), floats('y', 'R·C'), floats('rstd', 'R'), int('R'), int('C'), num('eps', 'nonNegative'), roundFlag,
      optional(nullable(floats('xSaved', 'R·C'))), fusedCast('R·C'),
    ],
  },
  rmsnormBackward: {
    args: [floats('dy', 'R·C'), floats('x', 'R·C'), nullable(floats('gain', 'C')), floats('rstd', 'R'), floats('dx', 'R·C'), nullable(floats('dgain', 'C')), int('R'), int('C'), roundFlag],
  },
  ropeForward: rope('x', 'y'),
  ropeBackward: rope('dy', 'dx'),

  crossEntropyForward: {
    args: [floats('logits', 'R·V'), targets, floats('losses', 'R'), floats('lse', 'R'), int('R'), int('V')],
  },
  crossEntropyBackward: {
    args: [floats('logits', 'R·V'), targets, floats('lse', 'R'), floats('dloss', 'R'), floats('dlogits', 'R·V'), int('R'), int('V'), roundFlag],
  },
  crossEntropyBf16: {
    args: [floats('logits', 'R·V'), targets, floats('losses', 'R'), floats('lse', 'R'), floats('dloss', 'R'), u16('bits', 'R·V'), int('R'), int('V')],
  },

  attentionForward: {
    args: [
      qInput('q'), kvInput('k'), kvInput('v'), qHeads('o'), attentionLse, attentionShape, fp8Scales('forward'),
      optional(struct('options', 'AttentionForwardOptions', [optional(bool('maxLogit'))])),
    ],
  },
  attentionBackward: {
    args: [
      qInput('q'), kvInput('k'), kvInput('v'), qInput('o'), attentionLse, qInput('do_'), qHeads('dq'), kvHeads('dk'), kvHeads('dv'),
      attentionShape, fp8Scales('backward'),
    ],
  },

  swigluForward: {
    args: [floatsOrBf16('h', '2·R·F'), floats('a', 'R·F'), int('R'), int('F'), roundFlag, optional(nullable(u16('hBits', '2·R·F'))), fusedCast('R·F')],
  },
  swigluBackward: { args: [floatsOrBf16('h', '2·R·F'), floats('da', 'R·F'), floats('dh', '2·R·F'), int('R'), int('F'), roundFlag, fusedCast('2·R·F')] },
  smoothSwigluForward: {
    args: [
      floatsOrBf16('h', '2·R·F'), floats('a', 'R·F'), floats('s', 'R'), int('R'), int('F'), roundFlag, optional(nullable(u16('hBits', '2·R·F'))),
      fusedCast('R·F'),
    ],
  },
  smoothSwigluBackward: {
    args: [floatsOrBf16('h', '2·R·F'), floats('s', 'R'), floats('da', 'R·F'), floats('dh', '2·R·F'), int('R'), int('F'), roundFlag, fusedCast('2·R·F')],
  },
  geluForward: { args: [floatsOrBf16('x'), floats('y', 'x.length'), roundFlag, optional(nullable(u16('xBits', 'x.length'))), fusedCast('x.length')] },
  geluBackward: { args: [floatsOrBf16('x'), floats('dy', 'x.length'), floats('dx', 'x.length'), roundFlag, fusedCast('x.length')] },
  xieluForward: {
    args: [floatsOrBf16('x'), floats('y', 'x.length'), xieluParams, roundFlag, optional(nullable(u16('xBits', 'x.length'))), fusedCast('x.length')],
  },
  xieluBackward: { args: [floatsOrBf16('x'), floats('dy', 'x.length'), floats('dx', 'x.length'), xieluParams, roundFlag, fusedCast('x.length')] },

  adamw: {
    args: [
      floats('w'), floats('g', 'w.length'), floats('m', 'w.length'), floats('v', 'w.length'),
      struct('p', 'AdamWParams', [
        num('lr', 'finite'), num('beta1', 'fraction'), num('beta2', 'fraction'), num('eps', 'nonNegative'),
        num('weightDecay', 'nonNegative'), int('step', { note: '1-based' }),
      ]),
    ],
  },
  rowMoments: { args: [floats('x', 'R·C'), int('R'), int('C'), f64('out', '3·R')] },
  sumSquares: { args: [floats('x')] },

  addInPlace: { args: [floats('acc'), floats('x', 'acc.length'), roundFlag] },
  embeddingForward: { args: [floats('table', 'V·C'), tokens, floats('h', 'R·C'), int('R'), int('C'), int('V'), num('scale', 'finite')] },
  embeddingBackward: { args: [floats('dh', 'R·C'), tokens, floats('dtable', 'V·C'), int('R'), int('C'), int('V'), num('scale', 'finite')] },
  // The column ranges (srcCol0 + cols ≤ srcCols, likewise dst) are checked by both backends, which index by them.
  copyColumns: {
    args: [
      floats('src', 'R·srcCols'), int('srcCols'), num('srcCol0', 'index'), floats('dst', 'R·dstCols'), int('dstCols'),
      num('dstCol0', 'index'), int('R'), int('cols'),
    ],
  },
} as const satisfies Record<KernelFunctionName, KernelSignature>;

/** The kernel functions of `Kernels`: every method except the allocator `alloc` (isa, threads, workspaceBytes are properties). */
export type KernelFunctionName = Exclude<{ [K in keyof Kernels]: Kernels[K] extends (...args: never[]) => unknown ? K : never }[keyof Kernels], 'alloc'>;

/** The names of KERNEL_SIGNATURES, in table order. */
export const KERNEL_NAMES: readonly KernelFunctionName[] = namesOf(KERNEL_SIGNATURES);

function namesOf(table: Record<KernelFunctionName, KernelSignature>): KernelFunctionName[] {
  return Object.keys(table).filter((name): name is KernelFunctionName => Object.hasOwn(table, name));
}

// ---- compile-time agreement with types.ts ----------------------------------------------------------
// `satisfies Record<KernelFunctionName, …>` above already rejects a missing or an extra function;
// TABLE_MATCHES_INTERFACE rejects a row whose argument count differs from the method's, or any
// argument whose kind (array dtype, number, string, boolean, object) or optional / nullable
// marking differs from the parameter's type. `struct` and `oneOf` check fields and enum values.

type Arity<F> = F extends (...args: infer P) => unknown ? Required<P>['length'] : never;
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
/** Per argument: [may be left out, may be null, kind], from the table's `optional(…)` / `nullable(…)` and kind… */
type SpecFlags<A extends readonly unknown[]> = {
  -readonly [I in keyof A]: [A[I] extends { readonly optional: true } ? 1 : 0, A[I] extends { readonly nullable: true } ? 1 : 0, SpecKind<A[I]>];
};
type SpecKind<S> = S extends { readonly kind: 'array'; readonly dtype: infer D } ? (D extends 'floatOrBf16' ? 'float' | 'u16' : D extends ArrayDtype ? D : 'array') : S extends { readonly kind: 'int' | 'number' } ? 'number'
  : S extends { readonly kind: 'enum' } ? 'string' : S extends { readonly kind: 'bool' } ? 'boolean' : S extends { readonly kind: 'floatsOrStruct' } ? 'float' | 'object' : 'object';
/** …and from the interface's parameter types (`x?:` / `| undefined`, `| null`, the type). */
type ParamFlags<F> = F extends (...args: infer P) => unknown
  ? Required<{ [I in keyof P]: [undefined extends P[I] ? 1 : 0, null extends P[I] ? 1 : 0, ParamKind<NonNullable<P[I]>>] }>
  : never;
type ParamKind<T> = T extends Float32Array ? 'float' : T extends Uint8Array ? 'u8' : T extends Uint16Array ? 'u16' : T extends Int32Array ? 'i32'
  : T extends Float64Array ? 'f64' : T extends number ? 'number' : T extends string ? 'string' : T extends boolean ? 'boolean' : 'object';
/** The functions whose table row and interface method differ in argument count, or in which arguments may be null or left out. */
type Mismatch = {
  [K in KernelFunctionName]: Same<(typeof KERNEL_SIGNATURES)[K]['args']['length'], Arity<Kernels[K]>> extends true
    ? Same<SpecFlags<(typeof KERNEL_SIGNATURES)[K]['args']>, ParamFlags<Kernels[K]>> extends true ? never : K
    : K;
}[KernelFunctionName];
/** Fails to compile, naming the function ("true is not assignable to 'gemm'"), when table and interface disagree. */
export const TABLE_MATCHES_INTERFACE: [Mismatch] extends [never] ? true : Mismatch = true;

/** Every field of AttentionFp8Scales has a line in FP8_SCALE_FIELDS (the backward's check reads them all). */
export const FP8_SCALES_COMPLETE: Exactly<FieldName<'AttentionFp8Scales'>, (typeof FP8_SCALE_FIELDS)[number]['spec']['name']> = {};
