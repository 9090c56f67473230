#include "simd.h"

// MARK: - Normalisation and activations

void gn_layer_norm(const float *x, size_t rows, size_t dim, const float *gamma, const float *beta,
                   float eps, float *y) {
  for (size_t r = 0; r < rows; r++) {
    const float *xr = x + r * dim;
    float *yr = y + r * dim;
    double mean = 0;
    for (size_t i = 0; i < dim; i++) mean += xr[i];
    mean /= (double)dim;
    double var = 0;
    for (size_t i = 0; i < dim; i++) {
      double d = xr[i] - mean;
      var += d * d;
    }
    var /= (double)dim;
    float inv = (float)(1.0 / sqrt(var + (double)eps));
    float m = (float)mean;
    for (size_t i = 0; i < dim; i++) yr[i] = (xr[i] - m) * inv * gamma[i] + beta[i];
  }
}

#if GN_X86
// gelu_new(v) = ½·v·(1 + tanh(u)) with u = √(2/π)·(v + 0.044715·v³), computed as v / (1 + e^(−2u))
// (the same function: 1 + tanh(u) = 2 / (1 + e^(−2u))), which needs one exp and no cancellation.
__attribute__((target("avx2,fma"))) static size_t gelu_new_avx2(float *x, size_t n) {
  const __m256 c2 = _mm256_set1_ps(-2.0f * 0.7978845608028654f), a = _mm256_set1_ps(0.044715f);
  const __m256 one = _mm256_set1_ps(1.0f);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    __m256 u = _mm256_mul_ps(_mm256_fmadd_ps(_mm256_mul_ps(a, v), _mm256_mul_ps(v, v), v), c2);
    _mm256_storeu_ps(x + i, _mm256_div_ps(v, _mm256_add_ps(one, exp256(u))));
  }
  return i;
}
#endif

void gn_gelu_new(float *x, size_t n) {
  const float c = 0.7978845608028654f;  // sqrt(2 / pi)
  size_t start = 0;
#if GN_X86
  if (gn_has_avx2_fma()) start = gelu_new_avx2(x, n);
#endif
  for (size_t i = start; i < n; i++) {
    float v = x[i];
    x[i] = 0.5f * v * (1.0f + tanhf(c * (v + 0.044715f * v * v * v)));
  }
}

void gn_gelu_erf(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.7071067811865476f));
}

void gn_gelu_fast(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float v = x[i];
    x[i] = 0.5f * v * (1.0f + tanhf(v * 0.7978845608f * (1.0f + 0.044715f * v * v)));
  }
}

void gn_relu(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0;
}

void gn_silu(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
}

void gn_add(float *y, const float *x, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] += x[i];
}
