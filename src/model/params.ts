/**
 * The parameter table: one declaration per tensor (Hugging Face name, shape, init, weight decay),
 * from which sizes, offsets and views over one arena are derived. Tensors that one GEMM reads
 * together (q/k/v projections, gate/up projections) are declared adjacently so the fused weight
 * is a contiguous view of the arena.
 */
import type { FloatArray } from '../kernels/types.js';
import { isGatedMlp, type ModelConfig } from './config.js';
import { Rng, fnv1a } from './rng.js';
import { XIELU_ALPHA_INIT, XIELU_BETA } from '../ops/activations.js';

export type ParamInit = { kind: 'normal'; std: number } | { kind: 'constant'; value: number };

export interface ParamSpec {
  name: string;
  shape: number[];
  init: ParamInit;
  /** AdamW decoupled weight decay applies (2-D matrices only, DESIGN §5). */
  weightDecay: boolean;
}

/** softplus⁻¹(y) = ln(eᵞ − 1): raw xIELU parameter for a target α. */
export function inverseSoftplus(y: number): number {
  return Math.log(Math.expm1(y));
}


/** Hugging Face names of one layer's tensors (only those the config declares exist in the table). */
export function layerParamNames(i: number) {
  const p = `model.layers.${i}.`;
  return {
    inputNorm: `${p}input_layernorm.weight`,
    q: `${p}self_attn.q_proj.weight`,
    k: `${p}self_attn.k_proj.weight`,
    v: `${p}self_attn.v_proj.weight`,
    o: `${p}self_attn.o_proj.weight`,
    qNormGain: `${p}self_attn.q_norm.weight`,
    kNormGain: `${p}self_attn.k_norm.weight`,
    qNormAlpha: `${p}self_attn.q_norm.alpha`,
    kNormAlpha: `${p}self_attn.k_norm.alpha`,
    attnLayerScale: `${p}self_attn.attn_layerscale.weight`,
    attnPostNorm: `${p}attention_layernorm.weight`,
    postAttnNorm: `${p}post_attention_layernorm.weight`,
    gate: `${p}mlp.gate_proj.weight`,
    up: `${p}mlp.up_proj.weight`,
    down: `${p}mlp.down_proj.weight`,
    alphaP: `${p}mlp.act_fn.alpha_p`,
    alphaN: `${p}mlp.act_fn.alpha_n`,
    mlpLayerScale: `${p}mlp.mlp_layerscale.weight`,
    mlpPostNorm: `${p}feedforward_layernorm.weight`,
  };
}

export const EMBED_NAME = 'model.embed_tokens.weight';
export const FINAL_NORM_NAME = 'model.norm.weight';
export const LM_HEAD_NAME = 'lm_head.weight';

/** The declarative parameter table of a config, in arena order (DESIGN §4 init). */
export function buildParamSpecs(c: ModelConfig): ParamSpec[] {
  const specs: ParamSpec[] = [];
  const d = c.dModel;
  const D = c.headDim;
  const std = c.initStd;
  const residualStd = std / Math.sqrt(2 * c.nLayers);
  const invSqrtL = 1 / Math.sqrt(c.nLayers);
  const matrix = (name: string, rows: number, cols: number, s = std) =>
    specs.push({ name, shape: [rows, cols], init: { kind: 'normal', std: s }, weightDecay: true });
  const vector = (name: string, n: number, value: number) =>
    specs.push({ name, shape: [n], init: { kind: 'constant', value }, weightDecay: false });

  matrix(EMBED_NAME, c.vocabSize, d);
  for (let i = 0; i < c.nLayers; i++) {
    const n = layerParamNames(i);
    if (c.preNorm) vector(n.inputNorm, d, 1);
    matrix(n.q, c.nHeads * D, d);
    matrix(n.k, c.nKvHeads * D, d);
    matrix(n.v, c.nKvHeads * D, d);
    matrix(n.o, d, c.nHeads * D, residualStd);
    if (c.qkNorm === 'rmsnorm-gain') {
      vector(n.qNormGain, D, 1);
      vector(n.kNormGain, D, 1);
    } else if (c.qkNorm === 'tanh') {
      vector(n.qNormAlpha, 1, 1);
      vector(n.kNormAlpha, 1, 1);
    }
    const postGain = c.postNormGainInit === 'inv-sqrt-layers' ? invSqrtL : 1;
    if (c.layerScale) vector(n.attnLayerScale, d, invSqrtL);
    if (c.postNorm) vector(n.attnPostNorm, d, postGain);
    if (c.preNorm) vector(n.postAttnNorm, d, 1);
    if (isGatedMlp(c.mlp)) matrix(n.gate, c.ffnDim, d);
    matrix(n.up, c.ffnDim, d);
    matrix(n.down, d, c.ffnDim, residualStd);
    if (c.mlp === 'xielu') {
      vector(n.alphaP, 1, inverseSoftplus(XIELU_ALPHA_INIT));
      vector(n.alphaN, 1, inverseSoftplus(XIELU_ALPHA_INIT - XIELU_BETA));
    }
    if (c.layerScale) vector(n.mlpLayerScale, d, invSqrtL);
    if (c.postNorm) vector(n.mlpPostNorm, d, postGain);
  }
  if (c.finalNorm) vector(FINAL_NORM_NAME, d, 1);
  // Tied: the LM head reads the embedding matrix, so there is no lm_head tensor (as HF tie_word_embeddings).
  if (!c.tieEmbeddings) matrix(LM_HEAD_NAME, c.vocabSize, d);
  return specs;
}

/** The tensor the LM head multiplies by: lm_head.weight, or the embedding matrix when tied. */
export function lmHeadParamName(c: Pick<ModelConfig, 'tieEmbeddings'>): string {
  return c.tieEmbeddings ? EMBED_NAME : LM_HEAD_NAME;
}

/** Parameter counts by kind (DESIGN §4's "matrix params" = every 2-D tensor, embedding and head included). */
export interface ParameterGroups {
  total: number;
  /** 2-D tensors: embedding, every projection, the LM head when untied. */
  matrix: number;
  /** 1-D tensors: gains, LayerScale, xIELU and DyT scalars. */
  vector: number;
  embedding: number;
  /** 0 when tied (the head reuses the embedding). */
  lmHead: number;
  /** Everything in the transformer blocks (and the final norm). */
  blocks: number;
}

/** Parameter counts by kind, without allocating anything. */
export function parameterGroups(c: ModelConfig): ParameterGroups {
  const g: ParameterGroups = { total: 0, matrix: 0, vector: 0, embedding: 0, lmHead: 0, blocks: 0 };
  for (const s of buildParamSpecs(c)) {
    const n = shapeSize(s.shape);
    g.total += n;
    if (s.shape.length === 2) g.matrix += n;
    else g.vector += n;
    if (s.name === EMBED_NAME) g.embedding += n;
    else if (s.name === LM_HEAD_NAME) g.lmHead += n;
    else g.blocks += n;
  }
  return g;
}

/** Number of elements of a shape. */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Parameter count of a config without allocating anything. */
export function countParameters(c: ModelConfig): number {
  return buildParamSpecs(c).reduce((a, s) => a + shapeSize(s.shape), 0);
}

/**
 * Named views over one float arena, laid out in table order: a Float32Array, or a Float64Array when
 * the model runs on the reference backend's float64 mode (`alloc` gives the arena).
 */
export class ParameterStore<Buf extends FloatArray = Float32Array> {
  readonly specs: ParamSpec[];
  /** The arena. */
  readonly data: Buf;
  /** Total element count. */
  readonly size: number;
  /** Element offset of each tensor in the arena. */
  readonly offsets: ReadonlyMap<string, number>;
  private readonly views = new Map<string, Buf>();

  constructor(specs: ParamSpec[], alloc: (n: number) => Buf);
  constructor(specs: ParamSpec[]);
  constructor(specs: ParamSpec[], alloc?: (n: number) => Buf) {
    this.specs = specs;
    const offsets = new Map<string, number>();
    let offset = 0;
    for (const s of specs) {
      if (offsets.has(s.name)) throw new RangeError(`ParameterStore: duplicate tensor name ${s.name}`);
      offsets.set(s.name, offset);
      offset += shapeSize(s.shape);
    }
    this.offsets = offsets;
    this.size = offset;
    // Without `alloc` the overloads make Buf = Float32Array.
    this.data = alloc ? alloc(offset) : (new Float32Array(offset) as Buf);
    for (const s of specs) {
      const o = offsets.get(s.name) as number;
      this.views.set(s.name, this.data.subarray(o, o + shapeSize(s.shape)) as Buf);
    }
  }

  /** View of one tensor (shares memory with the arena). */
  get(name: string): Buf {
    const v = this.views.get(name);
    if (!v) throw new RangeError(`ParameterStore: no tensor named "${name}"`);
    return v;
  }

  has(name: string): boolean {
    return this.views.has(name);
  }

  spec(name: string): ParamSpec {
    const s = this.specs.find((x) => x.name === name);
    if (!s) throw new RangeError(`ParameterStore: no tensor named "${name}"`);
    return s;
  }

  /** One contiguous view spanning adjacent tensors given in arena order (e.g. fused q/k/v). */
  span(names: readonly string[]): Buf {
    let expected = this.offsets.get(names[0]);
    if (expected === undefined) throw new RangeError(`ParameterStore: no tensor named "${names[0]}"`);
    const start = expected;
    for (const n of names) {
      const o = this.offsets.get(n);
      if (o !== expected) throw new RangeError(`ParameterStore.span: ${n} is not adjacent in the arena`);
      expected = o + this.get(n).length;
    }
    return this.data.subarray(start, expected) as Buf;
  }

  /**
   * Deterministic init per the table: N(0, std²) streams keyed by (seed, tensor name), rounded to
   * float32 in either arena type, so a float64 model starts from exactly the float32 model's weights.
   */
  initialize(seed: number): void {
    for (const s of this.specs) {
      const view = this.get(s.name);
      if (s.init.kind === 'constant') {
        view.fill(Math.fround(s.init.value));
      } else {
        const rng = new Rng(seed, fnv1a(s.name));
        const std = s.init.std;
        for (let i = 0; i < view.length; i++) view[i] = Math.fround(rng.normal() * std);
      }
    }
  }
}
