// JS ↔ C++ marshalling of the fused kernels (normalisation, RoPE, cross-entropy, attention,
// activations, AdamW, monitor reductions). Only memory safety is checked here — buffer types, the
// lengths the kernels read and write, indices they follow (targets, the KV head of a query head) —
// so a raw call never crashes; what the values mean (scales > 0, β in [0, 1), …) is checked once, in
// TypeScript, from the signature table (src/kernels/signatures.ts, withValidation).
#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>

#include "common/napi_args.h"
#include "casts/casts.h"
#include "fused/fused.h"
#include "register.h"

namespace fog8 {
namespace {

/** The optional trailing roundBf16 flag of a kernel: argument `index`, false when absent or undefined. */
bool roundArg(const Napi::CallbackInfo& info, size_t index, const std::string& fn) {
  if (info.Length() <= index || info[index].IsUndefined()) return false;
  return boolArg(info.Env(), info[index], fn + ": roundBf16");
}

Napi::Object objectArg(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsObject() || v.IsArray() || v.IsTypedArray()) throwType(env, what + " must be an object");
  return v.As<Napi::Object>();
}

double fieldNumber(Napi::Env env, const Napi::Object& o, const char* key, const std::string& what) {
  return numberArg(env, o.Get(key), what + "." + key);
}

size_t fieldDim(Napi::Env env, const Napi::Object& o, const char* key, const std::string& what) {
  return dimArg(env, o.Get(key), what + "." + key);
}

/**
 * An activation's optional trailing fused FP8 cast (types.ts FusedCast {format, scale, codes} of
 * `length` elements) at argument `index`: null when absent, null or undefined.
 */
std::unique_ptr<ChunkedCast> fusedCastArg(const Napi::CallbackInfo& info, size_t index, const std::string& fn, size_t length,
                                        const std::string& lengthText) {
  Napi::Env env = info.Env();
  if (info.Length() <= index || info[index].IsNull() || info[index].IsUndefined()) return nullptr;
  const std::string what = fn + ": cast";
  Napi::Object o = objectArg(env, info[index], what + " (or null)");
  const Fp8Format& f = formatArg(env, o.Get("format"), what + ".format");
  const float scale = static_cast<float>(fieldNumber(env, o, "scale", what));
  auto codes = sizedArray<uint8_t>(env, o.Get("codes"), what + ".codes", length, lengthText);
  return std::make_unique<ChunkedCast>(f, scale, codes.data);
}

/** A fused cast's statistics (castErrorStatsObject), or null without one. */
Napi::Value fusedCastResult(Napi::Env env, const std::unique_ptr<ChunkedCast>& cast) {
  if (!cast) return env.Null();
  return castErrorStatsObject(env, cast->result());
}

// ---- normalisation, position ----------------------------------------------------------------------

Napi::Value RmsnormForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireArgs(info, 7, "rmsnormForward");
  const size_t R = dimArg(env, info[4], "rmsnormForward: R"), C = dimArg(env, info[5], "rmsnormForward: C");
  const size_t n = product(env, {R, C}, "rmsnormForward: R·C");
  const std::string rc = "R·C = " + std::to_string(R) + "·" + std::to_string(C);
  auto x = sizedArray<float>(env, info[0], "rmsnormForward: x", n, rc);
  auto gain = optionalSizedArray<float>(env, info[1], "rmsnormForward: gain", C, "C");
  auto y = sizedArray<float>(env, info[2], "rmsnormForward: y", n, rc);
  auto rstd = sizedArray<float>(env, info[3], "rmsnormForward: rstd", R, "R");
  const double eps = numberArg(env, info[6], "rmsnormForward: eps");
  auto xSaved = info.Length() > 8 ? optionalSizedArray<float>(env, info[8], "rmsnormForward: xSaved", n, rc) : ArrayArg<float>{nullptr, 0};
  const auto cast = fusedCastArg(info, 9, "rmsnormForward", n, rc);
  fused::rmsnormForward(x.data, gain.data, y.data, rstd.data, R, C, eps, roundArg(info, 7, "rmsnormForward"), xSaved.data, cast.get());
  return fusedCastResult(env, cast);
}

Napi::Value RmsnormBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireArgs(info, 8, "rmsnormBackward");
  const size_t R = dimArg(env, info[6], "rmsnormBackward: R"), C = dimArg(env, info[7], "rmsnormBackward: C");
  const size_t n = product(env, {R, C}, "rmsnormBackward: R·C");
  const std::string rc = "R·C = " + std::to_string(R) + "·" + std::to_string(C);
  auto dy = sizedArray<float>(env, info[0], "rmsnormBackward: dy", n, rc);
  auto x = sizedArray<float>(env, info[1], "rmsnormBackward: x", n, rc);
  auto gain = optionalSizedArray<float>(env, info[2], "rmsnormBackward: gain", C, "C");
  auto rstd = sizedArray<float>(env, info[3], "rmsnormBackward: rstd", R, "R");
  auto dx = sizedArray<float>(env, info[4], "rmsnormBackward: dx", n, rc);
  auto dgain = optionalSizedArray<float>(env, info[5], "rmsnormBackward: dgain", C, "C");
  fused::rmsnormBackward(dy.data, x.data, gain.data, rstd.data, dx.data, dgain.data, R, C, roundArg(info, 8, "rmsnormBackward"));
  return env.Undefined();
}

Napi::Value Rope(const Napi::CallbackInfo& info, bool forward) {
  Napi::Env env = info.Env();
  const std::string fn = forward ? "ropeForward" : "ropeBackward";
  const std::string in = forward ? "x" : "dy", out = forward ? "y" : "dx";
  requireArgs(info, 7, fn.c_str());
  const size_t B = dimArg(env, info[2], fn + ": B"), T = dimArg(env, info[3], fn + ": T");
  const size_t H = dimArg(env, info[4], fn + ": H"), D = dimArg(env, info[5], fn + ": D");
  const size_t n = product(env, {B, T, H, D}, fn + ": B·T·H·D");
  const std::string text = "B·T·H·D = " + std::to_string(B) + "·" + std::to_string(T) + "·" + std::to_string(H) +
                           "·" + std::to_string(D);
  auto src = sizedArray<float>(env, info[0], fn + ": " + in, n, text);
  auto dst = sizedArray<float>(env, info[1], fn + ": " + out, n, text);
  // The D/2 float64 frequencies come from the TS side (ropeFrequencies: theta and Llama-3.1 scaling).
  auto freq = sizedArray<double>(env, info[6], fn + ": frequencies", D / 2, "D/2");
  const bool round = roundArg(info, 7, fn);
  if (forward) fused::ropeForward(src.data, dst.data, B, T, H, D, freq.data, round);
  else fused::ropeBackward(src.data, dst.data, B, T, H, D, freq.data, round);
  return env.Undefined();
}
Napi::Value RopeForward(const Napi::CallbackInfo& info) { return Rope(info, true); }
Napi::Value RopeBackward(const Napi::CallbackInfo& info) { return Rope(info, false); }

// ---- loss --------------------------------------------------------------------------------------------

/** Memory safety: a target indexes its row of logits. */
void checkTargets(Napi::Env env, const ArrayArg<int32_t>& targets, size_t V, const std::string& fn) {
  for (size_t r = 0; r < targets.length; r++) {
    const int32_t t = targets.data[r];
    if (t < -1 || (t >= 0 && static_cast<size_t>(t) >= V))
      throwRange(env, fn + ": targets[" + std::to_string(r) + "] = " + std::to_string(t) + " is outside {-1} ∪ [0, " +
                          std::to_string(V) + ")");
  }
}

/** The logits (R, V) and targets (R) every cross-entropy kernel starts with (R and V at `rIndex`, `rIndex` + 1). */
struct CrossEntropyRows {
  ArrayArg<float> logits;
  ArrayArg<int32_t> targets;
  size_t R, V, n;
  /** A per-row float array (losses, lse, dloss) at argument `index`. */
  ArrayArg<float> perRow(const Napi::CallbackInfo& info, size_t index, const std::string& what) const {
    return sizedArray<float>(info.Env(), info[index], what, R, "R");
  }
};

CrossEntropyRows crossEntropyRows(const Napi::CallbackInfo& info, const std::string& fn, size_t args, size_t rIndex) {
  Napi::Env env = info.Env();
  requireArgs(info, args, fn.c_str());
  const size_t R = dimArg(env, info[rIndex], fn + ": R"), V = dimArg(env, info[rIndex + 1], fn + ": V");
  const size_t n = product(env, {R, V}, fn + ": R·V");
  auto logits = sizedArray<float>(env, info[0], fn + ": logits", n, "R·V");
  auto targets = sizedArray<int32_t>(env, info[1], fn + ": targets", R, "R");
  checkTargets(env, targets, V, fn);
  return CrossEntropyRows{logits, targets, R, V, n};
}

Napi::Value CrossEntropyForward(const Napi::CallbackInfo& info) {
  const auto c = crossEntropyRows(info, "crossEntropyForward", 6, 4);
  auto losses = c.perRow(info, 2, "crossEntropyForward: losses");
  auto lse = c.perRow(info, 3, "crossEntropyForward: lse");
  fused::crossEntropyForward(c.logits.data, c.targets.data, losses.data, lse.data, c.R, c.V);
  return info.Env().Undefined();
}

Napi::Value CrossEntropyBackward(const Napi::CallbackInfo& info) {
  const auto c = crossEntropyRows(info, "crossEntropyBackward", 7, 5);
  auto lse = c.perRow(info, 2, "crossEntropyBackward: lse");
  auto dloss = c.perRow(info, 3, "crossEntropyBackward: dloss");
  auto dlogits = sizedArray<float>(info.Env(), info[4], "crossEntropyBackward: dlogits", c.n, "R·V");
  fused::crossEntropyBackward(c.logits.data, c.targets.data, lse.data, dloss.data, dlogits.data, c.R, c.V,
                              roundArg(info, 7, "crossEntropyBackward"));
  return info.Env().Undefined();
}

Napi::Value CrossEntropyBf16(const Napi::CallbackInfo& info) {
  const auto c = crossEntropyRows(info, "crossEntropyBf16", 8, 6);
  auto losses = c.perRow(info, 2, "crossEntropyBf16: losses");
  auto lse = c.perRow(info, 3, "crossEntropyBf16: lse");
  auto dloss = c.perRow(info, 4, "crossEntropyBf16: dloss");
  auto bits = sizedArray<uint16_t>(info.Env(), info[5], "crossEntropyBf16: bits", c.n, "R·V");
  fused::crossEntropyBf16(c.logits.data, c.targets.data, losses.data, lse.data, dloss.data, bits.data, c.R, c.V);
  return info.Env().Undefined();
}

// ---- attention ---------------------------------------------------------------------------------------

fused::AttentionShape shapeArg(Napi::Env env, const Napi::Value& v, const std::string& fn) {
  const std::string what = fn + ": shape";
  Napi::Object o = objectArg(env, v, what);
  fused::AttentionShape s{};
  s.B = fieldDim(env, o, "B", what);
  s.T = fieldDim(env, o, "T", what);
  s.Hq = fieldDim(env, o, "Hq", what);
  s.Hkv = fieldDim(env, o, "Hkv", what);
  s.D = fieldDim(env, o, "D", what);
  // Query head h reads KV head h / (Hq / Hkv): anything but a multiple would index past Hkv.
  if (s.Hkv == 0 || s.Hq % s.Hkv != 0)
    throwType(env, what + ".Hq must be a multiple of " + what + ".Hkv (> 0), got Hq = " + std::to_string(s.Hq) +
                       ", Hkv = " + std::to_string(s.Hkv));
  s.softmaxScale = static_cast<float>(fieldNumber(env, o, "softmaxScale", what));
  // Optional (default false); the TS signature table checks that it is a boolean.
  const Napi::Value bf16 = o.Get("bf16Operands");
  s.bf16Operands = bf16.IsUndefined() ? false : boolArg(env, bf16, what + ".bf16Operands");
  return s;
}

/** fp8 scales (or null): p always, ds only for the backward (the forward never reads it). Their range is checked in TS. */
bool fp8Arg(Napi::Env env, const Napi::Value& v, const std::string& fn, bool backward, fused::AttentionFp8Scales& out) {
  if (v.IsNull() || v.IsUndefined()) return false;
  const std::string what = fn + ": fp8";
  Napi::Object o = objectArg(env, v, what + " (or null)");
  out.p = static_cast<float>(fieldNumber(env, o, "p", what));
  out.ds = backward ? static_cast<float>(fieldNumber(env, o, "ds", what)) : 1.0f;
  // Optional inverse scales of the FP8 operands (default 1; range checked in TS); doInv: backward only.
  out.qkvInv = o.Get("qkvInv").IsUndefined() ? 1.0f : static_cast<float>(fieldNumber(env, o, "qkvInv", what));
  out.doInv = !backward || o.Get("doInv").IsUndefined() ? 1.0f : static_cast<float>(fieldNumber(env, o, "doInv", what));
  return true;
}

/** options.maxLogit of attentionForward (undefined options or field → true). */
bool wantMaxLogitArg(Napi::Env env, const Napi::Value& v, const std::string& fn) {
  if (v.IsUndefined()) return true;
  const std::string what = fn + ": options";
  Napi::Object o = objectArg(env, v, what + " (or undefined)");
  Napi::Value flag = o.Get("maxLogit");
  if (flag.IsUndefined()) return true;
  return boolArg(env, flag, what + ".maxLogit");
}

struct AttentionSizes {
  size_t nq, nkv, nlse;
  std::string q, kv, lse;
};

AttentionSizes attentionSizes(Napi::Env env, const fused::AttentionShape& s, const std::string& fn) {
  const size_t B = s.B, T = s.T, Hq = s.Hq, Hkv = s.Hkv, D = s.D;
  auto text = [](std::initializer_list<size_t> dims) {
    std::string t;
    for (size_t d : dims) t += (t.empty() ? "" : "·") + std::to_string(d);
    return t;
  };
  return AttentionSizes{product(env, {B, T, Hq, D}, fn + ": B·T·Hq·D"), product(env, {B, T, Hkv, D}, fn + ": B·T·Hkv·D"),
                        product(env, {B, Hq, T}, fn + ": B·Hq·T"), "B·T·Hq·D = " + text({B, T, Hq, D}),
                        "B·T·Hkv·D = " + text({B, T, Hkv, D}), "B·Hq·T = " + text({B, Hq, T})};
}

/**
 * An attention input (types.ts AttentionInput): a Float32Array, or {format, data: Uint8Array,
 * invScale?} whose decode tables are built into `tables`; either of n elements.
 */
fused::AttentionInput attentionInputArg(Napi::Env env, const Napi::Value& v, const std::string& what, size_t n,
                                        const std::string& expected, fused::AttentionCodeTables& tables) {
  fused::AttentionInput in;
  if (v.IsTypedArray()) {
    in.values = sizedArray<float>(env, v, what, n, expected).data;
    return in;
  }
  Napi::Object o = objectArg(env, v, what + " (a Float32Array or {format, data, invScale?})");
  const Fp8Format& format = formatArg(env, o.Get("format"), what + ".format");
  in.codes = sizedArray<uint8_t>(env, o.Get("data"), what + ".data", n, expected).data;
  const float invScale = o.Get("invScale").IsUndefined() ? 1.0f : static_cast<float>(fieldNumber(env, o, "invScale", what));
  fused::attentionCodeTables(&format == &kE5M2, invScale, tables);
  in.value = tables.value;
  in.bf16Bytes = tables.bf16Bytes;
  return in;
}

/** q, k, v, o, lse: arguments 0..4 of both attention functions, checked against the shape (q, k, v,
 *  and in the backward o, may be FP8 codes; the forward's o is its float output). */
struct AttentionArrays {
  fused::AttentionCodeTables tables[4];
  fused::AttentionInput q, k, v, oIn;
  ArrayArg<float> o{}, lse{};
};

void attentionArrays(Napi::Env env, const Napi::CallbackInfo& info, const AttentionSizes& z, const std::string& fn,
                     bool backward, AttentionArrays& a) {
  a.q = attentionInputArg(env, info[0], fn + ": q", z.nq, z.q, a.tables[0]);
  a.k = attentionInputArg(env, info[1], fn + ": k", z.nkv, z.kv, a.tables[1]);
  a.v = attentionInputArg(env, info[2], fn + ": v", z.nkv, z.kv, a.tables[2]);
  if (backward) a.oIn = attentionInputArg(env, info[3], fn + ": o", z.nq, z.q, a.tables[3]);
  else a.o = sizedArray<float>(env, info[3], fn + ": o", z.nq, z.q);
  a.lse = sizedArray<float>(env, info[4], fn + ": lse", z.nlse, z.lse);
}

Napi::Value AttentionForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string fn = "attentionForward";
  requireArgs(info, 7, fn.c_str());
  const fused::AttentionShape s = shapeArg(env, info[5], fn);
  fused::AttentionFp8Scales scales{};
  const bool fp8 = fp8Arg(env, info[6], fn, false, scales);
  const bool wantMaxLogit = wantMaxLogitArg(env, info[7], fn);
  const AttentionSizes z = attentionSizes(env, s, fn);
  AttentionArrays a;
  attentionArrays(env, info, z, fn, false, a);
  fused::CastCounts pStats;
  const float maxLogit = fused::attentionForward(a.q, a.k, a.v, a.o.data, a.lse.data, s,
                                                 fp8 ? &scales : nullptr, fp8 ? &pStats : nullptr, wantMaxLogit);
  Napi::Object result = Napi::Object::New(env);
  result.Set("maxLogit", static_cast<double>(maxLogit));
  if (fp8) result.Set("p", castErrorStatsObject(env, pStats));
  return result;
}

Napi::Value AttentionBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string fn = "attentionBackward";
  requireArgs(info, 11, fn.c_str());
  const fused::AttentionShape s = shapeArg(env, info[9], fn);
  fused::AttentionFp8Scales scales{};
  const bool fp8 = fp8Arg(env, info[10], fn, true, scales);
  const AttentionSizes z = attentionSizes(env, s, fn);
  AttentionArrays a;
  attentionArrays(env, info, z, fn, true, a);
  fused::AttentionCodeTables doTables;
  const fused::AttentionInput dO = attentionInputArg(env, info[5], fn + ": do_", z.nq, z.q, doTables);
  auto dq = sizedArray<float>(env, info[6], fn + ": dq", z.nq, z.q);
  auto dk = sizedArray<float>(env, info[7], fn + ": dk", z.nkv, z.kv);
  auto dv = sizedArray<float>(env, info[8], fn + ": dv", z.nkv, z.kv);
  fused::CastCounts dsStats;
  fused::attentionBackward(a.q, a.k, a.v, a.oIn, a.lse.data, dO, dq.data, dk.data, dv.data,
                           s, fp8 ? &scales : nullptr, fp8 ? &dsStats : nullptr);
  Napi::Object result = Napi::Object::New(env);
  if (fp8) result.Set("ds", castErrorStatsObject(env, dsStats));
  return result;
}

// ---- activations -------------------------------------------------------------------------------------

/** An activation's input: a Float32Array of values or a Uint16Array of their BF16 bits; `length` its elements. */
fused::ActivationInput activationInput(Napi::Env env, const Napi::Value& v, const std::string& what, size_t& length) {
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array) {
    auto bits = typedArrayArg<uint16_t>(env, v, what);
    length = bits.length;
    return fused::ActivationInput{nullptr, bits.data};
  }
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throwType(env, what + " must be a Float32Array or a Uint16Array of BF16 bits");
  }
  auto values = typedArrayArg<float>(env, v, what);
  length = values.length;
  return fused::ActivationInput{values.data, nullptr};
}

/** A forward's optional trailing BF16 copy of its input (argument `index`): null when absent, null or undefined. */
uint16_t* inputBitsArg(const Napi::CallbackInfo& info, size_t index, const std::string& what, size_t expected,
                       const std::string& expectedText) {
  if (info.Length() <= index) return nullptr;
  return optionalSizedArray<uint16_t>(info.Env(), info[index], what, expected, expectedText).data;
}

/** activationInput of exactly `expected` elements. */
fused::ActivationInput sizedActivationInput(Napi::Env env, const Napi::Value& v, const std::string& what, size_t expected,
                                            const std::string& expectedText) {
  size_t length = 0;
  const fused::ActivationInput in = activationInput(env, v, what, length);
  if (length != expected)
    throwType(env, what + " must have length " + std::to_string(expected) + " (" + expectedText + "), got " + std::to_string(length));
  return in;
}

Napi::Value Gated(const Napi::CallbackInfo& info, const std::string& fn, bool forward, bool smooth) {
  Napi::Env env = info.Env();
  // forward: (h, a, [s,] R, F); backward: (h, [s,] da, dh, R, F)
  const size_t arrays = forward ? (smooth ? 3 : 2) : (smooth ? 4 : 3);
  requireArgs(info, arrays + 2, fn.c_str());
  const size_t R = dimArg(env, info[arrays], fn + ": R"), F = dimArg(env, info[arrays + 1], fn + ": F");
  const bool round = roundArg(info, arrays + 2, fn);
  const size_t nh = product(env, {R, 2, F}, fn + ": R·2F"), na = product(env, {R, F}, fn + ": R·F");
  const fused::ActivationInput h = sizedActivationInput(env, info[0], fn + ": h", nh, "R·2F");
  std::unique_ptr<ChunkedCast> cast;
  if (forward) {
    auto a = sizedArray<float>(env, info[1], fn + ": a", na, "R·F");
    uint16_t* hBits = inputBitsArg(info, arrays + 3, fn + ": hBits", nh, "R·2F");
    cast = fusedCastArg(info, arrays + 4, fn, na, "R·F");
    if (smooth) {
      auto s = sizedArray<float>(env, info[2], fn + ": s", R, "R");
      fused::smoothSwigluForward(h, a.data, s.data, R, F, round, hBits, cast.get());
    } else {
      fused::swigluForward(h, a.data, R, F, round, hBits, cast.get());
    }
  } else {
    size_t i = 1;
    ArrayArg<float> s{nullptr, 0};
    if (smooth) s = sizedArray<float>(env, info[i++], fn + ": s", R, "R");
    auto da = sizedArray<float>(env, info[i++], fn + ": da", na, "R·F");
    auto dh = sizedArray<float>(env, info[i++], fn + ": dh", nh, "R·2F");
    cast = fusedCastArg(info, arrays + 3, fn, nh, "R·2F");
    if (smooth) fused::smoothSwigluBackward(h, s.data, da.data, dh.data, R, F, round, cast.get());
    else fused::swigluBackward(h, da.data, dh.data, R, F, round, cast.get());
  }
  return fusedCastResult(env, cast);
}
Napi::Value SwigluForward(const Napi::CallbackInfo& info) { return Gated(info, "swigluForward", true, false); }
Napi::Value SwigluBackward(const Napi::CallbackInfo& info) { return Gated(info, "swigluBackward", false, false); }
Napi::Value SmoothSwigluForward(const Napi::CallbackInfo& info) { return Gated(info, "smoothSwigluForward", true, true); }
Napi::Value SmoothSwigluBackward(const Napi::CallbackInfo& info) { return Gated(info, "smoothSwigluBackward", false, true); }

Napi::Value GeluForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireArgs(info, 2, "geluForward");
  size_t n = 0;
  const fused::ActivationInput x = activationInput(env, info[0], "geluForward: x", n);
  auto y = sizedArray<float>(env, info[1], "geluForward: y", n, "x.length");
  uint16_t* xBits = inputBitsArg(info, 3, "geluForward: xBits", n, "x.length");
  const auto cast = fusedCastArg(info, 4, "geluForward", n, "x.length");
  fused::geluForward(x, y.data, n, roundArg(info, 2, "geluForward"), xBits, cast.get());
  return fusedCastResult(env, cast);
}

Napi::Value GeluBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireArgs(info, 3, "geluBackward");
  size_t n = 0;
  const fused::ActivationInput x = activationInput(env, info[0], "geluBackward: x", n);
  auto dy = sizedArray<float>(env, info[1], "geluBackward: dy", n, "x.length");
  auto dx = sizedArray<float>(env, info[2], "geluBackward: dx", n, "x.length");
  const auto cast = fusedCastArg(info, 4, "geluBackward", n, "x.length");
  fused::geluBackward(x, dy.data, dx.data, n, roundArg(info, 3, "geluBackward"), cast.get());
  return fusedCastResult(env, cast);
}

fused::XieluParams xieluArg(Napi::Env env, const Napi::Value& v, const std::string& fn) {
  const std::string what = fn + ": p";
  Napi::Object o = objectArg(env, v, what);
  return fused::XieluParams{fieldNumber(env, o, "alphaP", what), fieldNumber(env, o, "alphaN", what),
                            fieldNumber(env, o, "beta", what), fieldNumber(env, o, "eps", what)};
}

Napi::Value XieluForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireArgs(info, 3, "xieluForward");
  size_t n = 0;
  const fused::ActivationInput x = activationInput(env, info[0], "xieluForward: x", n);
  auto y = sizedArray<float>(env, info[1], "xieluForward: y", n, "x.length");
  const fused::XieluParams p = xieluArg(env, info[2], "xieluForward");
  uint16_t* xBits = inputBitsArg(info, 4, "xieluForward: xBits", n, "x.length");
  const auto cast = fusedCastArg(info, 5, "xieluForward", n, "x.length");
  fused::xieluForward(x, y.data, n, p, roundArg(info, 3, "xieluForward"), xBits, cast.get());
  return fusedCastResult(env, cast);
}

Napi::Value XieluBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireArgs(info, 4, "xieluBackward");
  size_t n = 0;
  const fused::ActivationInput x = activationInput(env, info[0], "xieluBackward: x", n);
  auto dy = sizedArray<float>(env, info[1], "xieluBackward: dy", n, "x.length");
  auto dx = sizedArray<float>(env, info[2], "xieluBackward: dx", n, "x.length");
  const fused::XieluParams p = xieluArg(env, info[3], "xieluBackward");
  double dAlphaP = 0, dAlphaN = 0;
  const auto cast = fusedCastArg(info, 5, "xieluBackward", n, "x.length");
  fused::xieluBackward(x, dy.data, dx.data, n, p, &dAlphaP, &dAlphaN, roundArg(info, 4, "xieluBackward"), cast.get());
  Napi::Object result = Napi::Object::New(env);
  result.Set("dAlphaP", dAlphaP);
  result.Set("dAlphaN", dAlphaN);
  result.Set("cast", fusedCastResult(env, cast));
  return result;
}

// ---- optimizer, monitors -----------------------------------------------------------------------------

Napi::Value Adamw(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireArgs(info, 5, "adamw");
  auto w = typedArrayArg<float>(env, info[0], "adamw: w");
  auto g = sizedArray<float>(env, info[1], "adamw: g", w.length, "w.length");
  auto m = sizedArray<float>(env, info[2], "adamw: m", w.length, "w.length");
  auto v = sizedArray<float>(env, info[3], "adamw: v", w.length, "w.length");
  const std::string what = "adamw: p";
  Napi::Object o = objectArg(env, info[4], what);
  fused::AdamWParams p{fieldNumber(env, o, "lr", what),  fieldNumber(env, o, "beta1", what),
                       fieldNumber(env, o, "beta2", what), fieldNumber(env, o, "eps", what),
                       fieldNumber(env, o, "weightDecay", what), fieldNumber(env, o, "step", what)};
  fused::adamw(w.data, g.data, m.data, v.data, w.length, p);
  return env.Undefined();
}

Napi::Value RowMoments(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireArgs(info, 4, "rowMoments");
  const size_t R = dimArg(env, info[1], "rowMoments: R"), C = dimArg(env, info[2], "rowMoments: C");
  auto x = sizedArray<float>(env, info[0], "rowMoments: x", product(env, {R, C}, "rowMoments: R·C"), "R·C");
  auto out = sizedArray<double>(env, info[3], "rowMoments: out", product(env, {3, R}, "rowMoments: 3R"), "3R");
  fused::rowMoments(x.data, R, C, out.data);
  return env.Undefined();
}

Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireArgs(info, 1, "sumSquares");
  auto x = typedArrayArg<float>(env, info[0], "sumSquares: x");
  return Napi::Number::New(env, fused::sumSquares(x.data, x.length));
}

// ---- element-wise, copies ------------------------------------------------------------------------------

Napi::Value AddInPlace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireArgs(info, 2, "addInPlace");
  auto acc = typedArrayArg<float>(env, info[0], "addInPlace: acc");
  auto x = sizedArray<float>(env, info[1], "addInPlace: x", acc.length, "acc.length");
  fused::addInPlace(acc.data, x.data, static_cast<int64_t>(acc.length), roundArg(info, 2, "addInPlace"));
  return env.Undefined();
}

/** Token ids (R) for a table of V rows: every one in [0, V) (memory safety of the gather/scatter). */
void checkTokens(Napi::Env env, const ArrayArg<int32_t>& tokens, size_t V, const std::string& fn) {
  for (size_t r = 0; r < tokens.length; r++) {
    const int32_t t = tokens.data[r];
    if (t < 0 || static_cast<size_t>(t) >= V)
      throwRange(env, fn + ": tokens[" + std::to_string(r) + "] = " + std::to_string(t) + " is outside [0, " + std::to_string(V) + ")");
  }
}

/** The arguments both embedding kernels take: (src, tokens (R), dst, R, C, V, scale), where the
 *  table (V, C) is src (forward: table → h) or dst (backward: dh → dtable) and the other is (R, C). */
struct EmbeddingArgs {
  ArrayArg<float> src;
  ArrayArg<int32_t> tokens;
  ArrayArg<float> dst;
  size_t R, C;
  double scale;
};

EmbeddingArgs embeddingArgs(const Napi::CallbackInfo& info, const std::string& fn, const char* srcName, const char* dstName, bool srcIsTable) {
  Napi::Env env = info.Env();
  requireArgs(info, 7, fn.c_str());
  const size_t R = dimArg(env, info[3], fn + ": R"), C = dimArg(env, info[4], fn + ": C"), V = dimArg(env, info[5], fn + ": V");
  const size_t tableLength = product(env, {V, C}, fn + ": V·C"), rowsLength = product(env, {R, C}, fn + ": R·C");
  auto src = sizedArray<float>(env, info[0], fn + ": " + srcName, srcIsTable ? tableLength : rowsLength, srcIsTable ? "V·C" : "R·C");
  auto tokens = sizedArray<int32_t>(env, info[1], fn + ": tokens", R, "R");
  auto dst = sizedArray<float>(env, info[2], fn + ": " + dstName, srcIsTable ? rowsLength : tableLength, srcIsTable ? "R·C" : "V·C");
  const double scale = numberArg(env, info[6], fn + ": scale");
  checkTokens(env, tokens, V, fn);
  return EmbeddingArgs{src, tokens, dst, R, C, scale};
}

/** embeddingForward(table (V, C), tokens (R), h (R, C), R, C, V, scale). */
Napi::Value EmbeddingForward(const Napi::CallbackInfo& info) {
  const EmbeddingArgs a = embeddingArgs(info, "embeddingForward", "table", "h", true);
  fused::embeddingForward(a.src.data, a.tokens.data, a.dst.data, static_cast<int64_t>(a.R), static_cast<int64_t>(a.C), a.scale);
  return info.Env().Undefined();
}

/** embeddingBackward(dh (R, C), tokens (R), dtable (V, C), R, C, V, scale). */
Napi::Value EmbeddingBackward(const Napi::CallbackInfo& info) {
  const EmbeddingArgs a = embeddingArgs(info, "embeddingBackward", "dh", "dtable", false);
  fused::embeddingBackward(a.src.data, a.tokens.data, a.dst.data, static_cast<int64_t>(a.R), static_cast<int64_t>(a.C), a.scale);
  return info.Env().Undefined();
}

Napi::Value CopyColumns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireArgs(info, 8, "copyColumns");
  const size_t srcCols = dimArg(env, info[1], "copyColumns: srcCols"), dstCols = dimArg(env, info[4], "copyColumns: dstCols");
  const size_t R = dimArg(env, info[6], "copyColumns: R"), cols = dimArg(env, info[7], "copyColumns: cols");
  const size_t srcCol0 = columnArg(env, info[2], cols, srcCols, "copyColumns: srcCol0");
  const size_t dstCol0 = columnArg(env, info[5], cols, dstCols, "copyColumns: dstCol0");
  auto src = sizedArray<float>(env, info[0], "copyColumns: src", product(env, {R, srcCols}, "copyColumns: R·srcCols"), "R·srcCols");
  auto dst = sizedArray<float>(env, info[3], "copyColumns: dst", product(env, {R, dstCols}, "copyColumns: R·dstCols"), "R·dstCols");
  fused::copyColumns(src.data, static_cast<int64_t>(srcCols), static_cast<int64_t>(srcCol0), dst.data, static_cast<int64_t>(dstCols),
                     static_cast<int64_t>(dstCol0), static_cast<int64_t>(R), static_cast<int64_t>(cols));
  return env.Undefined();
}

}  // namespace

void registerFused(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "rmsnormForward", RmsnormForward);
  exportFunction(env, exports, "rmsnormBackward", RmsnormBackward);
  exportFunction(env, exports, "ropeForward", RopeForward);
  exportFunction(env, exports, "ropeBackward", RopeBackward);
  exportFunction(env, exports, "crossEntropyForward", CrossEntropyForward);
  exportFunction(env, exports, "crossEntropyBackward", CrossEntropyBackward);
  exportFunction(env, exports, "embeddingForward", EmbeddingForward);
  exportFunction(env, exports, "embeddingBackward", EmbeddingBackward);
  exportFunction(env, exports, "crossEntropyBf16", CrossEntropyBf16);
  exportFunction(env, exports, "attentionForward", AttentionForward);
  exportFunction(env, exports, "attentionBackward", AttentionBackward);
  exportFunction(env, exports, "swigluForward", SwigluForward);
  exportFunction(env, exports, "swigluBackward", SwigluBackward);
  exportFunction(env, exports, "smoothSwigluForward", SmoothSwigluForward);
  exportFunction(env, exports, "smoothSwigluBackward", SmoothSwigluBackward);
  exportFunction(env, exports, "geluForward", GeluForward);
  exportFunction(env, exports, "geluBackward", GeluBackward);
  exportFunction(env, exports, "xieluForward", XieluForward);
  exportFunction(env, exports, "xieluBackward", XieluBackward);
  exportFunction(env, exports, "adamw", Adamw);
  exportFunction(env, exports, "rowMoments", RowMoments);
  exportFunction(env, exports, "sumSquares", SumSquares);
  exportFunction(env, exports, "addInPlace", AddInPlace);
  exportFunction(env, exports, "copyColumns", CopyColumns);
}

}  // namespace fog8
