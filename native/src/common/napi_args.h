// Defensive argument unpacking for the addon's functions: buffer types, lengths and the integers
// that size them, so a bad call never reaches a kernel with memory it could overrun. Each check
// throws a JS TypeError naming the function and argument. The meaning of the values (ranges,
// formats' semantics) is validated once, in TypeScript, from src/kernels/signatures.ts.
#pragma once
#include <napi.h>

#include <cmath>
#include <initializer_list>
#include <string>

#include "fp8.h"

namespace fog8 {

[[noreturn]] inline void throwType(Napi::Env env, const std::string& msg) {
  throw Napi::TypeError::New(env, msg);
}

template <typename T>
struct TypedArrayTraits;
template <> struct TypedArrayTraits<float> { static constexpr napi_typedarray_type type = napi_float32_array; static constexpr const char* name = "Float32Array"; };
template <> struct TypedArrayTraits<double> { static constexpr napi_typedarray_type type = napi_float64_array; static constexpr const char* name = "Float64Array"; };
template <> struct TypedArrayTraits<uint8_t> { static constexpr napi_typedarray_type type = napi_uint8_array; static constexpr const char* name = "Uint8Array"; };
template <> struct TypedArrayTraits<uint16_t> { static constexpr napi_typedarray_type type = napi_uint16_array; static constexpr const char* name = "Uint16Array"; };
template <> struct TypedArrayTraits<int32_t> { static constexpr napi_typedarray_type type = napi_int32_array; static constexpr const char* name = "Int32Array"; };

/** A typed-array argument's data and element count. */
template <typename T>
struct ArrayArg {
  T* data;
  size_t length;
};

/** `what` (e.g. "quantize: x") must be a typed array of element type T. */
template <typename T>
ArrayArg<T> typedArrayArg(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != TypedArrayTraits<T>::type)
    throwType(env, what + " must be a " + TypedArrayTraits<T>::name);
  auto arr = v.As<Napi::TypedArrayOf<T>>();
  return ArrayArg<T>{arr.Data(), arr.ElementLength()};
}

/** Like typedArrayArg, or {nullptr, 0} for null. */
template <typename T>
ArrayArg<T> optionalTypedArrayArg(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (v.IsNull() || v.IsUndefined()) return ArrayArg<T>{nullptr, 0};
  return typedArrayArg<T>(env, v, what + " (or null)");
}

/** Like typedArrayArg, and its length must be `expected` (described as expectedText, e.g. "R·C"). */
template <typename T>
ArrayArg<T> sizedArray(Napi::Env env, const Napi::Value& v, const std::string& what, size_t expected,
                       const std::string& expectedText) {
  ArrayArg<T> a = typedArrayArg<T>(env, v, what);
  if (a.length != expected)
    throwType(env, what + " must have length " + std::to_string(expected) + " (" + expectedText + "), got " +
                       std::to_string(a.length));
  return a;
}

/** Like sizedArray, or {nullptr, 0} for null. */
template <typename T>
ArrayArg<T> optionalSizedArray(Napi::Env env, const Napi::Value& v, const std::string& what, size_t expected,
                               const std::string& expectedText) {
  if (v.IsNull() || v.IsUndefined()) return ArrayArg<T>{nullptr, 0};
  return sizedArray<T>(env, v, what + " (or null)", expected, expectedText);
}

/** A finite or non-finite JS number. */
inline double numberArg(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsNumber()) throwType(env, what + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

/** A non-negative integer below 2^31 (a dimension). */
inline size_t dimArg(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsNumber()) throwType(env, what + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d < 2147483648.0) || std::floor(d) != d)
    throwType(env, what + " must be a non-negative integer below 2^31, got " + std::to_string(d));
  return static_cast<size_t>(d);
}

[[noreturn]] inline void throwRange(Napi::Env env, const std::string& msg) { throw Napi::RangeError::New(env, msg); }

/** Product of dimensions, rejecting anything a typed array could not hold (≥ 2^53). */
inline size_t product(Napi::Env env, std::initializer_list<size_t> dims, const std::string& what) {
  long double p = 1;
  size_t exact = 1;
  for (size_t d : dims) {
    p *= static_cast<long double>(d);
    if (p >= 9007199254740992.0L) throwType(env, what + " is too large (≥ 2^53 elements)");
    exact *= d;
  }
  return exact;
}

/** A column offset: an integer with col0 + cols ≤ width (the copy stays inside every row). */
inline size_t columnArg(Napi::Env env, const Napi::Value& v, size_t cols, size_t width, const std::string& what) {
  const double col0 = numberArg(env, v, what);
  if (!(col0 >= 0) || col0 != static_cast<double>(static_cast<size_t>(col0)) || col0 + static_cast<double>(cols) > static_cast<double>(width))
    throwRange(env, what + " must be an integer with 0 ≤ " + what.substr(what.find(' ') + 1) + " and it + cols ≤ " + std::to_string(width));
  return static_cast<size_t>(col0);
}

inline bool boolArg(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsBoolean()) throwType(env, what + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

inline std::string stringArg(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsString()) throwType(env, what + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

/** An FP8 format by name ('e4m3' or 'e5m2'). */
inline const Fp8Format& formatArg(Napi::Env env, const Napi::Value& v, const std::string& what) {
  const std::string name = stringArg(env, v, what);
  const Fp8Format* f = fp8FormatByName(name.c_str());
  if (f == nullptr) throwType(env, what + " must be 'e4m3' or 'e5m2', got '" + name + "'");
  return *f;
}

/** Throws unless info has at least n arguments. */
inline void requireArgs(const Napi::CallbackInfo& info, size_t n, const char* fn) {
  if (info.Length() < n)
    throwType(info.Env(), std::string(fn) + ": expected " + std::to_string(n) + " arguments, got " + std::to_string(info.Length()));
}

/** {amax, underflow, overflow, nonzero} of a cast (casts' CastResult or fused's CastCounts) as a JS object of numbers. */
template <typename Stats>
Napi::Object castStatsObject(Napi::Env env, const Stats& c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("amax", static_cast<double>(c.amax));
  o.Set("underflow", static_cast<double>(c.underflow));
  o.Set("overflow", static_cast<double>(c.overflow));
  o.Set("nonzero", static_cast<double>(c.nonzero));
  return o;
}

/** castStatsObject plus the error sums {sumSq, errSq, absSum, lostAbs} of a cast that has them. */
template <typename Stats>
Napi::Object castErrorStatsObject(Napi::Env env, const Stats& c) {
  Napi::Object o = castStatsObject(env, c);
  o.Set("sumSq", c.sumSq);
  o.Set("errSq", c.errSq);
  o.Set("absSum", c.absSum);
  o.Set("lostAbs", c.lostAbs);
  return o;
}

/** exports[name] = a JS function named `name` that calls fn. */
inline void exportFunction(Napi::Env env, Napi::Object exports, const char* name,
                           Napi::Value (*fn)(const Napi::CallbackInfo&)) {
  exports.Set(name, Napi::Function::New(env, fn, name));
}

}  // namespace fog8
