// Scalar FP8 encode on EncodeParams, included inside an anonymous namespace by each cast TU.
#pragma once
#include <cstdint>
#include <cstring>

#include "cast_kernels.h"

namespace {

inline uint32_t bitsOf(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}

inline uint8_t encodeOne(const fog8::EncodeParams& p, float v) {
  const uint32_t u = bitsOf(v);
  const uint32_t sign = (u >> 24) & 0x80u;
  const uint32_t au = u & 0x7FFFFFFFu;
  if (au > 0x7F800000u) return static_cast<uint8_t>(sign | p.nanCode);
  float a;
  std::memcpy(&a, &au, 4);
  if (a > p.maxFinite) return static_cast<uint8_t>(sign | p.maxCode);
  if (a < p.minNormal) return static_cast<uint8_t>(sign | (bitsOf(a + p.subnormalMagic) - p.subnormalMagicBits));
  const uint32_t r = au + p.roundHalfMinusOne + ((au >> p.shift) & 1u);
  return static_cast<uint8_t>(sign | ((r >> p.shift) - p.rebias));
}

/** One element with its statistics; x is the unscaled input. */
inline uint8_t encodeWithStats(const fog8::EncodeParams& p, float x, float scale, fog8::ChunkStats& st) {
  const float v = x * scale;
  const uint8_t code = encodeOne(p, v);
  const uint32_t ax = bitsOf(x) & 0x7FFFFFFFu;
  if (ax != 0) st.nonzero++;
  if (ax > 0x7F800000u) {
    st.anyNan = true;
  } else {
    float a;
    std::memcpy(&a, &ax, 4);
    if (a > st.amax) st.amax = a;
    if (ax != 0 && (code & 0x7F) == 0) st.underflow++;
    const uint32_t av = bitsOf(v) & 0x7FFFFFFFu;
    if (av > bitsOf(p.maxFinite) && av <= 0x7F800000u) st.overflow++;
  }
  return code;
}

/** Folds per-lane maxima of |x| bits into st: a lane above the Inf bits saw a NaN. */
inline void foldAmaxBits(const uint32_t* lanes, int n, fog8::ChunkStats& st) {
  for (int l = 0; l < n; l++) {
    if (lanes[l] > 0x7F800000u) {
      st.anyNan = true;
    } else {
      float a;
      std::memcpy(&a, &lanes[l], 4);
      if (a > st.amax) st.amax = a;
    }
  }
}

/** Error sums of one element: x finite only; `xhat` = decode(code)·invScale; `code` its FP8 code. */
inline void addError(fog8::ChunkStats& st, float x, float xhat, uint8_t code) {
  if ((bitsOf(x) & 0x7FFFFFFFu) >= 0x7F800000u) return;
  const double xd = x;
  const double d = xd - static_cast<double>(xhat);
  const double a = xd < 0 ? -xd : xd;
  st.sumSq += xd * xd;
  st.errSq += d * d;
  st.absSum += a;
  if ((code & 0x7F) == 0) st.lostAbs += a;
}

}  // namespace
