// MLP activations forward/backward (SwiGLU, Smooth-SwiGLU, GeLU with erf, xIELU; DESIGN §4).
// Every element is computed in float64 and rounded once on store, as in the reference; work is
// split over threads in contiguous ranges, and the xIELU parameter gradients are summed per fixed
// chunk then over chunks in order, so they do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "common/threads.h"
#include "fused/fused.h"

namespace fog8::fused {
namespace {

inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

constexpr size_t kElementGrain = 16384;

void gatedForward(const float* h, float* a, float* s, int64_t R, int64_t F, bool smooth) {
  parallelFor(static_cast<size_t>(R), [&](size_t begin, size_t end) {
    for (size_t r = begin; r < end; r++) {
      const float* gate = h + 2 * F * r;
      const float* up = gate + F;
      float* ar = a + F * r;
      double rowScale = 1.0;
      if (smooth) {
        float max = 0.0f;
        for (int64_t j = 0; j < F; j++) {
          const float m = std::fabs(gate[j]);
          if (std::isnan(m)) {
            max = m;
            break;
          }
          if (m > max) max = m;
        }
        s[r] = max == 0.0f ? 1.0f : max;
        rowScale = s[r];
      }
      for (int64_t j = 0; j < F; j++) {
        const double g = gate[j];
        const double value = g * sigmoid(g) * up[j];
        ar[j] = static_cast<float>(smooth ? value / rowScale : value);
      }
    }
  }, 8);
}

void gatedBackward(const float* h, const float* s, const float* da, float* dh, int64_t R, int64_t F) {
  parallelFor(static_cast<size_t>(R), [&](size_t begin, size_t end) {
    for (size_t r = begin; r < end; r++) {
      const float* gate = h + 2 * F * r;
      const float* up = gate + F;
      const float* dar = da + F * r;
      float* dgate = dh + 2 * F * r;
      float* dup = dgate + F;
      const double inv = s == nullptr ? 1.0 : 1.0 / s[r];
      for (int64_t j = 0; j < F; j++) {
        const double g = gate[j];
        const double sig = sigmoid(g);
        const double grad = dar[j] * inv;
        dgate[j] = static_cast<float>(grad * up[j] * sig * (1.0 + g * (1.0 - sig)));
        dup[j] = static_cast<float>(grad * g * sig);
      }
    }
  }, 8);
}

inline double normalCdf(double x) { return 0.5 * std::erfc(-x * 0.70710678118654752440); }

}  // namespace

void swigluForward(const float* h, float* a, int64_t R, int64_t F) { gatedForward(h, a, nullptr, R, F, false); }

void swigluBackward(const float* h, const float* da, float* dh, int64_t R, int64_t F) {
  gatedBackward(h, nullptr, da, dh, R, F);
}

void smoothSwigluForward(const float* h, float* a, float* s, int64_t R, int64_t F) {
  gatedForward(h, a, s, R, F, true);
}

void smoothSwigluBackward(const float* h, const float* s, const float* da, float* dh, int64_t R, int64_t F) {
  gatedBackward(h, s, da, dh, R, F);
}

void geluForward(const float* x, float* y, int64_t n) {
  parallelFor(static_cast<size_t>(n), [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; i++) y[i] = static_cast<float>(x[i] * normalCdf(x[i]));
  }, kElementGrain);
}

void geluBackward(const float* x, const float* dy, float* dx, int64_t n) {
  constexpr double kInvSqrt2Pi = 0.3989422804014327;
  parallelFor(static_cast<size_t>(n), [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; i++) {
      const double v = x[i];
      dx[i] = static_cast<float>(dy[i] * (normalCdf(v) + v * kInvSqrt2Pi * std::exp(-0.5 * v * v)));
    }
  }, kElementGrain);
}

void xieluForward(const float* x, float* y, int64_t n, const XieluParams& p) {
  parallelFor(static_cast<size_t>(n), [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; i++) {
      const double v = x[i];
      y[i] = static_cast<float>(v > 0 ? p.alphaP * v * v + p.beta * v
                                      : p.alphaN * std::expm1(std::min(v, p.eps)) - p.alphaN * v + p.beta * v);
    }
  }, kElementGrain);
}

void xieluBackward(const float* x, const float* dy, float* dx, int64_t n, const XieluParams& p, double* dAlphaP,
                   double* dAlphaN) {
  // Parameter gradients: one partial per fixed chunk, reduced in chunk order afterwards.
  constexpr int64_t kChunk = 65536;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partP(static_cast<size_t>(chunks)), partN(static_cast<size_t>(chunks));
  parallelFor(static_cast<size_t>(chunks), [&](size_t begin, size_t end) {
    for (size_t chunk = begin; chunk < end; chunk++) {
      const int64_t lo = static_cast<int64_t>(chunk) * kChunk, hi = std::min(n, lo + kChunk);
      double sumP = 0.0, sumN = 0.0;
      for (int64_t i = lo; i < hi; i++) {
        const double v = x[i], g = dy[i];
        if (v > 0) {
          dx[i] = static_cast<float>(g * (2 * p.alphaP * v + p.beta));
          sumP += g * v * v;
        } else {
          const double expTerm = v <= p.eps ? p.alphaN * std::exp(v) : 0.0;
          dx[i] = static_cast<float>(g * (expTerm - p.alphaN + p.beta));
          sumN += g * (std::expm1(std::min(v, p.eps)) - v);
        }
      }
      partP[chunk] = sumP;
      partN[chunk] = sumN;
    }
  });
  double sumP = 0.0, sumN = 0.0;
  for (int64_t c = 0; c < chunks; c++) {
    sumP += partP[c];
    sumN += partN[c];
  }
  *dAlphaP = sumP;
  *dAlphaN = sumN;
}

}  // namespace fog8::fused
