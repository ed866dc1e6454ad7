// Registration entry points of the fog8 addon: each group of kernels adds its functions to the
// module's exports. Marshalling (JS values ↔ raw pointers) lives in bind_*.cpp, kernels elsewhere.
#pragma once
#include <napi.h>

namespace fog8 {

/** quantize, dequantize, quantizeDequantize, roundBf16, packBf16, gemm, isa/threads helpers. */
void registerCastsAndGemm(Napi::Env env, Napi::Object exports);

/** rmsnorm, rope, cross-entropy, attention, activations, adamw, moments (bind_fused.cpp). */
void registerFused(Napi::Env env, Napi::Object exports);

}  // namespace fog8
