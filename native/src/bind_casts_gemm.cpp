// JS ↔ C++ marshalling of the casts, the GEMM and the addon's control functions (ISA, threads,
// peak microbenchmark). Kernels live in casts/ and gemm/; this file only checks and unpacks.
#include <napi.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../../bench/microbench/peak.h"
#include "casts/casts.h"
#include "common/aligned_buffer.h"
#include "common/isa.h"
#include "common/napi_args.h"
#include "common/threads.h"
#include "fused/fused.h"
#include "gemm/gemm.h"
#include "register.h"

namespace fog8 {
namespace {

/** The casts' arguments in call order: input, FP8 format, scale, output of the input's length. */
template <typename In, typename Out>
struct CastArgs {
  ArrayArg<In> in;
  const Fp8Format& format;
  float scale;
  ArrayArg<Out> out;
};

template <typename In, typename Out>
CastArgs<In, Out> castArgs(const Napi::CallbackInfo& info, const std::string& fn, const std::string& inName,
                           const std::string& scaleName, const std::string& outName) {
  Napi::Env env = info.Env();
  requireArgs(info, 4, fn.c_str());
  auto in = typedArrayArg<In>(env, info[0], fn + ": " + inName);
  const Fp8Format& f = formatArg(env, info[1], fn + ": format");
  float scale = static_cast<float>(numberArg(env, info[2], fn + ": " + scaleName));
  auto out = sizedArray<Out>(env, info[3], fn + ": " + outName, in.length, inName + ".length");
  return CastArgs<In, Out>{in, f, scale, out};
}

Napi::Value Quantize(const Napi::CallbackInfo& info) {
  const auto a = castArgs<float, uint8_t>(info, "quantize", "x", "scale", "codes");
  return castErrorStatsObject(info.Env(), quantizeArray(a.in.data, a.in.length, a.format, a.scale, a.out.data));
}

/** quantizeColumns(x (R, cols), format, scale, codes (R, codesCols), codesCols, codesCol0, R, cols). */
Napi::Value QuantizeColumns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireArgs(info, 8, "quantizeColumns");
  const Fp8Format& f = formatArg(env, info[1], "quantizeColumns: format");
  const float scale = static_cast<float>(numberArg(env, info[2], "quantizeColumns: scale"));
  const size_t codesCols = dimArg(env, info[4], "quantizeColumns: codesCols");
  const size_t R = dimArg(env, info[6], "quantizeColumns: R"), cols = dimArg(env, info[7], "quantizeColumns: cols");
  const size_t codesCol0 = columnArg(env, info[5], cols, codesCols, "quantizeColumns: codesCol0");
  auto x = sizedArray<float>(env, info[0], "quantizeColumns: x", product(env, {R, cols}, "quantizeColumns: R·cols"), "R·cols");
  auto codes = sizedArray<uint8_t>(env, info[3], "quantizeColumns: codes", product(env, {R, codesCols}, "quantizeColumns: R·codesCols"), "R·codesCols");
  return castErrorStatsObject(env, quantizeColumnsArray(x.data, R, cols, f, scale, codes.data, codesCols, codesCol0));
}

Napi::Value QuantizeDequantize(const Napi::CallbackInfo& info) {
  const auto a = castArgs<float, float>(info, "quantizeDequantize", "x", "scale", "out");
  const bool round = info.Length() > 4 && !info[4].IsUndefined() && boolArg(info.Env(), info[4], "quantizeDequantize: roundBf16");
  return castErrorStatsObject(info.Env(), quantizeDequantizeArray(a.in.data, a.in.length, a.format, a.scale, a.out.data, round));
}

Napi::Value Dequantize(const Napi::CallbackInfo& info) {
  const auto a = castArgs<uint8_t, float>(info, "dequantize", "codes", "invScale", "out");
  const bool round = info.Length() > 4 && !info[4].IsUndefined() && boolArg(info.Env(), info[4], "dequantize: roundBf16");
  dequantizeArray(a.in.data, a.in.length, a.format, a.scale, a.out.data, round);
  return info.Env().Undefined();
}

/** The (input, output of the input's length) pair of the BF16 array conversions. */
template <typename In, typename Out>
std::pair<ArrayArg<In>, ArrayArg<Out>> conversionArgs(const Napi::CallbackInfo& info, const std::string& fn,
                                                      const std::string& inName, const std::string& outName) {
  Napi::Env env = info.Env();
  requireArgs(info, 2, fn.c_str());
  auto in = typedArrayArg<In>(env, info[0], fn + ": " + inName);
  return {in, sizedArray<Out>(env, info[1], fn + ": " + outName, in.length, inName + ".length")};
}

Napi::Value RoundBf16(const Napi::CallbackInfo& info) {
  const auto [x, out] = conversionArgs<float, float>(info, "roundBf16", "x", "out");
  roundBf16Array(x.data, x.length, out.data);
  return info.Env().Undefined();
}

Napi::Value PackBf16(const Napi::CallbackInfo& info) {
  const auto [x, bits] = conversionArgs<float, uint16_t>(info, "packBf16", "x", "bits");
  packBf16Array(x.data, x.length, bits.data);
  return info.Env().Undefined();
}

Napi::Value UnpackBf16(const Napi::CallbackInfo& info) {
  const auto [bits, out] = conversionArgs<uint16_t, float>(info, "unpackBf16", "bits", "out");
  unpackBf16Array(bits.data, bits.length, out.data);
  return info.Env().Undefined();
}

/** Unpacks {dtype, data, trans, invScale?} and checks data holds rows·cols elements. */
GemmOperandView operandArg(Napi::Env env, const Napi::Value& v, const char* name, size_t elements) {
  const std::string what = std::string("gemm: ") + name;
  if (!v.IsObject() || v.IsTypedArray() || v.IsArray()) throwType(env, what + " must be an object {dtype, data, trans, invScale?}");
  Napi::Object o = v.As<Napi::Object>();
  const std::string dtype = stringArg(env, o.Get("dtype"), what + ".dtype");
  const bool trans = boolArg(env, o.Get("trans"), what + ".trans");
  Napi::Value inv = o.Get("invScale");
  const float invScale = inv.IsUndefined() ? 1.0f : static_cast<float>(numberArg(env, inv, what + ".invScale"));
  Napi::Value data = o.Get("data");
  Napi::Value frozen = o.Get("frozen");
  GemmOperandView view{Dtype::f32, nullptr, trans, invScale};
  if (!frozen.IsUndefined()) {
    const double id = numberArg(env, frozen, what + ".frozen");
    if (!(id >= 1 && id <= 9007199254740991.0 && id == static_cast<double>(static_cast<uint64_t>(id)))) throwType(env, what + ".frozen must be an integer >= 1");
    view.frozen = static_cast<uint64_t>(id);
  }
  size_t length = 0;
  if (dtype == "f32") {
    auto d = typedArrayArg<float>(env, data, what + ".data (dtype f32)");
    view.data = d.data, length = d.length;
  } else if (dtype == "bf16") {
    auto d = typedArrayArg<uint16_t>(env, data, what + ".data (dtype bf16)");
    view.dtype = Dtype::bf16, view.data = d.data, length = d.length;
  } else if (dtype == "e4m3" || dtype == "e5m2") {
    auto d = typedArrayArg<uint8_t>(env, data, what + ".data (dtype " + dtype + ")");
    view.dtype = dtype == "e4m3" ? Dtype::e4m3 : Dtype::e5m2, view.data = d.data, length = d.length;
  } else {
    throwType(env, what + ".dtype must be 'f32', 'bf16', 'e4m3' or 'e5m2', got '" + dtype + "'");
  }
  if (length != elements) throwType(env, what + ".data must have " + std::to_string(elements) + " elements, got " + std::to_string(length));
  return view;
}

Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireArgs(info, 6, "gemm");
  const size_t M = dimArg(env, info[0], "gemm: M"), N = dimArg(env, info[1], "gemm: N"), K = dimArg(env, info[2], "gemm: K");
  const GemmOperandView a = operandArg(env, info[3], "a", M * K);
  const GemmOperandView b = operandArg(env, info[4], "b", K * N);
  auto c = typedArrayArg<float>(env, info[5], "gemm: c");
  if (c.length != M * N) throwType(env, "gemm: c must have " + std::to_string(M * N) + " elements (M·N), got " + std::to_string(c.length));
  const float alpha = info.Length() > 6 && !info[6].IsUndefined() ? static_cast<float>(numberArg(env, info[6], "gemm: alpha")) : 1.0f;
  const float beta = info.Length() > 7 && !info[7].IsUndefined() ? static_cast<float>(numberArg(env, info[7], "gemm: beta")) : 0.0f;
  const bool round = info.Length() > 8 && !info[8].IsUndefined() && boolArg(env, info[8], "gemm: roundBf16");
  gemm(M, N, K, a, b, c.data, alpha, beta, round);
  return env.Undefined();
}

Napi::Value GetIsa(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), isaName(activeIsa())); }

Napi::Value GetBestIsa(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), isaName(bestSupportedIsa())); }

Napi::Value GetAvx512Emulated(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), avx512Emulated()); }

Napi::Value GetGemmTiles(const Napi::CallbackInfo& info) {
  const std::vector<std::string> tiles = gemmTiles();
  Napi::Array out = Napi::Array::New(info.Env(), tiles.size());
  for (size_t i = 0; i < tiles.size(); i++) out.Set(static_cast<uint32_t>(i), Napi::String::New(info.Env(), tiles[i]));
  return out;
}

/** Bytes the addon holds between calls: GEMM packing buffers (every AlignedBuffer) and RoPE's table. */
Napi::Value GetWorkspaceBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(AlignedBuffer::heldBytes() + fused::ropeTableBytes()));
}

Napi::Value GetGemmVariant(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), gemmVariant()); }

Napi::Value SetGemmVariant(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireArgs(info, 1, "setGemmVariant");
  const std::string name = stringArg(env, info[0], "setGemmVariant: variant");
  try {
    setGemmVariant(name);
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(env, std::string("setGemmVariant: ") + e.what());
  }
  return env.Undefined();
}

Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireArgs(info, 1, "setIsa");
  const std::string name = stringArg(env, info[0], "setIsa: isa");
  Isa isa;
  if (name == "scalar") isa = Isa::scalar;
  else if (name == "avx2") isa = Isa::avx2;
  else if (name == "avx512bf16") isa = Isa::avx512bf16;
  else throw Napi::RangeError::New(env, "setIsa: isa must be 'scalar', 'avx2' or 'avx512bf16', got '" + name + "'");
  try {
    setActiveIsa(isa);
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(env, std::string("setIsa: ") + e.what());
  }
  return env.Undefined();
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(numThreads())); }

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireArgs(info, 1, "setThreads");
  const size_t n = dimArg(env, info[0], "setThreads: n");
  if (n < 1 || n > 256) throw Napi::RangeError::New(env, "setThreads: n must be in [1, 256], got " + std::to_string(n));
  setNumThreads(n);
  return env.Undefined();
}

Napi::Value PeakGflops(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireArgs(info, 3, "peakGflops");
  const std::string kind = stringArg(env, info[0], "peakGflops: kind");
  const size_t threads = dimArg(env, info[1], "peakGflops: threads");
  const double seconds = numberArg(env, info[2], "peakGflops: seconds");
  if (threads < 1 || threads > numThreads()) throw Napi::RangeError::New(env, "peakGflops: threads must be in [1, " + std::to_string(numThreads()) + "]");
  if (!(seconds > 0 && seconds <= 10)) throw Napi::RangeError::New(env, "peakGflops: seconds must be in (0, 10]");
  try {
    bool cpuClock = false;
    if (info.Length() > 3 && !info[3].IsUndefined()) {
      const std::string clock = stringArg(env, info[3], "peakGflops: clock");
      if (clock != "wall" && clock != "cpu") throw Napi::RangeError::New(env, "peakGflops: clock must be 'wall' or 'cpu', got '" + clock + "'");
      cpuClock = clock == "cpu";
    }
    return Napi::Number::New(env, measurePeakGflops(kind.c_str(), static_cast<unsigned>(threads), seconds, cpuClock));
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(env, std::string("peakGflops: ") + e.what());
  }
}

}  // namespace

void registerCastsAndGemm(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "quantize", Quantize);
  exportFunction(env, exports, "quantizeColumns", QuantizeColumns);
  exportFunction(env, exports, "dequantize", Dequantize);
  exportFunction(env, exports, "quantizeDequantize", QuantizeDequantize);
  exportFunction(env, exports, "roundBf16", RoundBf16);
  exportFunction(env, exports, "packBf16", PackBf16);
  exportFunction(env, exports, "unpackBf16", UnpackBf16);
  exportFunction(env, exports, "gemm", Gemm);
  exportFunction(env, exports, "isa", GetIsa);
  exportFunction(env, exports, "bestIsa", GetBestIsa);
  exportFunction(env, exports, "avx512Emulated", GetAvx512Emulated);
  exportFunction(env, exports, "setIsa", SetIsa);
  exportFunction(env, exports, "gemmTiles", GetGemmTiles);
  exportFunction(env, exports, "gemmVariant", GetGemmVariant);
  exportFunction(env, exports, "workspaceBytes", GetWorkspaceBytes);
  exportFunction(env, exports, "setGemmVariant", SetGemmVariant);
  exportFunction(env, exports, "threads", GetThreads);
  exportFunction(env, exports, "setThreads", SetThreads);
  exportFunction(env, exports, "peakGflops", PeakGflops);
}

}  // namespace fog8
