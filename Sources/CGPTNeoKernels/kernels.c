#include "gptneo_kernels.h"

#include <float.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#define GN_X86 1
#include <immintrin.h>
#endif

// MARK: - CPU feature dispatch

#if GN_X86
static int gn_has_avx2_fma(void) {
  static int cached = -1;
  if (cached < 0) {
    __builtin_cpu_init();
    cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
  return cached;
}
static int gn_has_f16c(void) {
  static int cached = -1;
  if (cached < 0) {
    __builtin_cpu_init();
    cached = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
  }
  return cached;
}
#endif

// MARK: - Dot products and linear layers

static float dot_scalar(const float *a, const float *b, size_t k) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= k; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < k; i++) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

#if GN_X86
__attribute__((target("avx2,fma"))) static inline float hsum256(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  __m128 sh = _mm_movehdup_ps(lo);
  __m128 sums = _mm_add_ps(lo, sh);
  sh = _mm_movehl_ps(sh, sums);
  sums = _mm_add_ss(sums, sh);
  return _mm_cvtss_f32(sums);
}

__attribute__((target("avx2,fma"))) static float dot_avx2(const float *a, const float *b, size_t k) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= k; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= k; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < k; i++) s += a[i] * b[i];
  return s;
}

/// Two rows of x against one weight row: the weight row is read once for both outputs. Each
/// output is summed in exactly the order of dot_avx2, so a row's result does not depend on which
/// other rows share its batch (batched decoding gives the same tokens as decoding alone).
__attribute__((target("avx2,fma"))) static void dot2_avx2(const float *x0, const float *x1, const float *w,
                                                          size_t k, float out[2]) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps(), b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= k; i += 32) {
    __m256 w0 = _mm256_loadu_ps(w + i), w1 = _mm256_loadu_ps(w + i + 8);
    __m256 w2 = _mm256_loadu_ps(w + i + 16), w3 = _mm256_loadu_ps(w + i + 24);
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x0 + i), w0, a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x0 + i + 8), w1, a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x0 + i + 16), w2, a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x0 + i + 24), w3, a3);
    b0 = _mm256_fmadd_ps(_mm256_loadu_ps(x1 + i), w0, b0);
    b1 = _mm256_fmadd_ps(_mm256_loadu_ps(x1 + i + 8), w1, b1);
    b2 = _mm256_fmadd_ps(_mm256_loadu_ps(x1 + i + 16), w2, b2);
    b3 = _mm256_fmadd_ps(_mm256_loadu_ps(x1 + i + 24), w3, b3);
  }
  for (; i + 8 <= k; i += 8) {
    __m256 wv = _mm256_loadu_ps(w + i);
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x0 + i), wv, a0);
    b0 = _mm256_fmadd_ps(_mm256_loadu_ps(x1 + i), wv, b0);
  }
  float r0 = hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  float r1 = hsum256(_mm256_add_ps(_mm256_add_ps(b0, b1), _mm256_add_ps(b2, b3)));
  for (; i < k; i++) {
    r0 += x0[i] * w[i];
    r1 += x1[i] * w[i];
  }
  out[0] = r0;
  out[1] = r1;
}

__attribute__((target("avx2,fma"))) static void linear_avx2(const float *x, size_t m, size_t k,
                                                            const float *w, const float *bias, float *y,
                                                            size_t ldy, size_t n_begin, size_t n_end) {
  // Blocks of 64 weight rows stay in L2 while every row of x passes over them, so each weight is
  // read from memory once per call however many rows (tokens of a prompt, or sequences of a
  // batch) there are.
  const size_t block = 64;
  for (size_t jb = n_begin; jb < n_end; jb += block) {
    size_t je = jb + block < n_end ? jb + block : n_end;
    size_t i = 0;
    for (; i + 2 <= m; i += 2) {
      for (size_t j = jb; j < je; j++) {
        float r[2];
        dot2_avx2(x + i * k, x + (i + 1) * k, w + j * k, k, r);
        float b = bias ? bias[j] : 0.0f;
        y[i * ldy + j] = r[0] + b;
        y[(i + 1) * ldy + j] = r[1] + b;
      }
    }
    for (; i < m; i++) {
      for (size_t j = jb; j < je; j++) {
        y[i * ldy + j] = dot_avx2(x + i * k, w + j * k, k) + (bias ? bias[j] : 0.0f);
      }
    }
  }
}
#endif

void gn_linear_f32(const float *x, size_t m, size_t k, const float *w, const float *bias, float *y,
                   size_t ldy, size_t n_begin, size_t n_end) {
#if GN_X86
  if (gn_has_avx2_fma()) {
    linear_avx2(x, m, k, w, bias, y, ldy, n_begin, n_end);
    return;
  }
#endif
  for (size_t i = 0; i < m; i++) {
    for (size_t j = n_begin; j < n_end; j++) {
      y[i * ldy + j] = dot_scalar(x + i * k, w + j * k, k) + (bias ? bias[j] : 0.0f);
    }
  }
}

// MARK: - float16 and int8 weights

static float half_to_float(uint16_t h);  // below, with the load-time conversions

static uint16_t float_to_half(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffff;
  if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
  if (exp >= 31) return (uint16_t)(sign | 0x7c00);
  if (exp <= 0) {
    if (exp < -10) return (uint16_t)sign;
    mant |= 0x800000;
    uint32_t shift = (uint32_t)(14 - exp);
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) half++;
    return (uint16_t)(sign | half);
  }
  uint32_t half = sign | ((uint32_t)exp << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++;
  return (uint16_t)half;
}

static float dot_f16_scalar(const float *a, const uint16_t *b, size_t k) {
  float s = 0;
  for (size_t i = 0; i < k; i++) s += a[i] * half_to_float(b[i]);
  return s;
}

static float dot_q8_scalar(const float *a, const int8_t *b, size_t k) {
  float s = 0;
  for (size_t i = 0; i < k; i++) s += a[i] * (float)b[i];
  return s;
}

#if GN_X86
#define GN_LOAD_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define GN_LOAD_Q8(p) _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p))))

// One and two rows of x against one converted weight row, summed in the same order as dot_avx2,
// so a row's result does not depend on its batch.
#define GN_DEFINE_DOTS(NAME, WTYPE, LOAD, TARGET)                                                       \
  __attribute__((target(TARGET))) static float NAME##_1(const float *a, const WTYPE *w, size_t k) {     \
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();                                          \
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();                                          \
    size_t i = 0;                                                                                       \
    for (; i + 32 <= k; i += 32) {                                                                      \
      s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), LOAD(w + i), s0);                                    \
      s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), LOAD(w + i + 8), s1);                            \
      s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), LOAD(w + i + 16), s2);                          \
      s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), LOAD(w + i + 24), s3);                          \
    }                                                                                                   \
    for (; i + 8 <= k; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), LOAD(w + i), s0);           \
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));                     \
    return s;                                                                                           \
  }                                                                                                     \
  __attribute__((target(TARGET))) static void NAME##_2(const float *x0, const float *x1, const WTYPE *w, \
                                                       size_t k, float out[2]) {                        \
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps();                \
    __m256 a3 = _mm256_setzero_ps(), b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();                \
    __m256 b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();                                          \
    size_t i = 0;                                                                                       \
    for (; i + 32 <= k; i += 32) {                                                                      \
      __m256 w0 = LOAD(w + i), w1 = LOAD(w + i + 8), w2 = LOAD(w + i + 16), w3 = LOAD(w + i + 24);     \
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x0 + i), w0, a0);                                            \
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x0 + i + 8), w1, a1);                                        \
      a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x0 + i + 16), w2, a2);                                       \
      a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x0 + i + 24), w3, a3);                                       \
      b0 = _mm256_fmadd_ps(_mm256_loadu_ps(x1 + i), w0, b0);                                            \
      b1 = _mm256_fmadd_ps(_mm256_loadu_ps(x1 + i + 8), w1, b1);                                        \
      b2 = _mm256_fmadd_ps(_mm256_loadu_ps(x1 + i + 16), w2, b2);                                       \
      b3 = _mm256_fmadd_ps(_mm256_loadu_ps(x1 + i + 24), w3, b3);                                       \
    }                                                                                                   \
    for (; i + 8 <= k; i += 8) {                                                                        \
      __m256 wv = LOAD(w + i);                                                                          \
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x0 + i), wv, a0);                                            \
      b0 = _mm256_fmadd_ps(_mm256_loadu_ps(x1 + i), wv, b0);                                            \
    }                                                                                                   \
    out[0] = hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));                      \
    out[1] = hsum256(_mm256_add_ps(_mm256_add_ps(b0, b1), _mm256_add_ps(b2, b3)));                      \
  }

GN_DEFINE_DOTS(dot_f16, uint16_t, GN_LOAD_F16, "avx2,fma,f16c")
GN_DEFINE_DOTS(dot_q8, int8_t, GN_LOAD_Q8, "avx2,fma")
#endif

void gn_linear_f16(const float *x, size_t m, size_t k, const uint16_t *w, const float *bias, float *y,
                   size_t ldy, size_t n_begin, size_t n_end) {
  const size_t block = 64;
#if GN_X86
  if (gn_has_avx2_fma() && gn_has_f16c()) {
    size_t k8 = k & ~(size_t)7;
    for (size_t jb = n_begin; jb < n_end; jb += block) {
      size_t je = jb + block < n_end ? jb + block : n_end;
      size_t i = 0;
      for (; i + 2 <= m; i += 2) {
        for (size_t j = jb; j < je; j++) {
          float r[2];
          dot_f16_2(x + i * k, x + (i + 1) * k, w + j * k, k8, r);
          for (size_t t = k8; t < k; t++) {
            float wt = half_to_float(w[j * k + t]);
            r[0] += x[i * k + t] * wt;
            r[1] += x[(i + 1) * k + t] * wt;
          }
          float b = bias ? bias[j] : 0.0f;
          y[i * ldy + j] = r[0] + b;
          y[(i + 1) * ldy + j] = r[1] + b;
        }
      }
      for (; i < m; i++) {
        for (size_t j = jb; j < je; j++) {
          float r = dot_f16_1(x + i * k, w + j * k, k8);
          for (size_t t = k8; t < k; t++) r += x[i * k + t] * half_to_float(w[j * k + t]);
          y[i * ldy + j] = r + (bias ? bias[j] : 0.0f);
        }
      }
    }
    return;
  }
#endif
  (void)block;
  for (size_t i = 0; i < m; i++)
    for (size_t j = n_begin; j < n_end; j++)
      y[i * ldy + j] = dot_f16_scalar(x + i * k, w + j * k, k) + (bias ? bias[j] : 0.0f);
}

void gn_linear_q8(const float *x, size_t m, size_t k, const int8_t *q, const float *scale,
                  const float *bias, float *y, size_t ldy, size_t n_begin, size_t n_end) {
  const size_t block = 64;
#if GN_X86
  if (gn_has_avx2_fma()) {
    size_t k8 = k & ~(size_t)7;
    for (size_t jb = n_begin; jb < n_end; jb += block) {
      size_t je = jb + block < n_end ? jb + block : n_end;
      size_t i = 0;
      for (; i + 2 <= m; i += 2) {
        for (size_t j = jb; j < je; j++) {
          float r[2];
          dot_q8_2(x + i * k, x + (i + 1) * k, q + j * k, k8, r);
          for (size_t t = k8; t < k; t++) {
            r[0] += x[i * k + t] * (float)q[j * k + t];
            r[1] += x[(i + 1) * k + t] * (float)q[j * k + t];
          }
          float b = bias ? bias[j] : 0.0f;
          y[i * ldy + j] = r[0] * scale[j] + b;
          y[(i + 1) * ldy + j] = r[1] * scale[j] + b;
        }
      }
      for (; i < m; i++) {
        for (size_t j = jb; j < je; j++) {
          float r = dot_q8_1(x + i * k, q + j * k, k8);
          for (size_t t = k8; t < k; t++) r += x[i * k + t] * (float)q[j * k + t];
          y[i * ldy + j] = r * scale[j] + (bias ? bias[j] : 0.0f);
        }
      }
    }
    return;
  }
#endif
  (void)block;
  for (size_t i = 0; i < m; i++)
    for (size_t j = n_begin; j < n_end; j++)
      y[i * ldy + j] = dot_q8_scalar(x + i * k, q + j * k, k) * scale[j] + (bias ? bias[j] : 0.0f);
}

void gn_f32_to_f16(const float *src, uint16_t *dst, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = float_to_half(src[i]);
}

void gn_quantize_q8(const float *w, size_t rows, size_t k, int8_t *q, float *scale) {
  for (size_t j = 0; j < rows; j++) {
    const float *row = w + j * k;
    float amax = 0;
    for (size_t i = 0; i < k; i++) amax = fmaxf(amax, fabsf(row[i]));
    float s = amax / 127.0f;
    scale[j] = s;
    float inv = s > 0 ? 1.0f / s : 0.0f;
    for (size_t i = 0; i < k; i++) {
      float v = nearbyintf(row[i] * inv);
      q[j * k + i] = (int8_t)(v > 127 ? 127 : (v < -127 ? -127 : v));
    }
  }
}

static float gn_dot(const float *a, const float *b, size_t k) {
#if GN_X86
  if (gn_has_avx2_fma()) return dot_avx2(a, b, k);
#endif
  return dot_scalar(a, b, k);
}

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

void gn_gelu_new(float *x, size_t n) {
  const float c = 0.7978845608028654f;  // sqrt(2 / pi)
  for (size_t i = 0; i < n; i++) {
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

// MARK: - Attention

void gn_attention_head(const float *q, size_t q_stride, size_t t_new, size_t past, const float *k,
                       const float *v, size_t kv_stride, size_t head_dim, size_t window, float *out,
                       size_t out_stride, float *scratch) {
  for (size_t t = 0; t < t_new; t++) {
    size_t p = past + t;
    size_t lo = (window > 0 && p + 1 > window) ? p + 1 - window : 0;
    const float *qr = q + t * q_stride;
    float maxv = -FLT_MAX;
    for (size_t j = lo; j <= p; j++) {
      float s = gn_dot(qr, k + j * kv_stride, head_dim);
      scratch[j] = s;
      if (s > maxv) maxv = s;
    }
    float sum = 0;
    for (size_t j = lo; j <= p; j++) {
      float e = expf(scratch[j] - maxv);
      scratch[j] = e;
      sum += e;
    }
    float inv = 1.0f / sum;
    float *o = out + t * out_stride;
    memset(o, 0, head_dim * sizeof(float));
    for (size_t j = lo; j <= p; j++) {
      float pj = scratch[j] * inv;
      const float *vr = v + j * kv_stride;
      for (size_t d = 0; d < head_dim; d++) o[d] += pj * vr[d];
    }
  }
}

// MARK: - Conversions

static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        e++;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      mant &= 0x3ff;
      bits = sign | ((uint32_t)(127 - 15 - e) << 23) | (mant << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

#if GN_X86
__attribute__((target("avx,f16c"))) static void f16_to_f32_f16c(const uint16_t *src, float *dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm_loadu_si128((const __m128i *)(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; i++) dst[i] = half_to_float(src[i]);
}
#endif

void gn_f16_to_f32(const uint16_t *src, float *dst, size_t n) {
#if GN_X86
  if (gn_has_f16c()) {
    f16_to_f32_f16c(src, dst, n);
    return;
  }
#endif
  for (size_t i = 0; i < n; i++) dst[i] = half_to_float(src[i]);
}

void gn_bf16_to_f32(const uint16_t *src, float *dst, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint32_t bits = (uint32_t)src[i] << 16;
    memcpy(dst + i, &bits, sizeof(float));
  }
}

// MARK: - Reductions

double gn_logsumexp(const float *x, size_t n) {
  float m = -INFINITY;
  for (size_t i = 0; i < n; i++)
    if (x[i] > m) m = x[i];
  double s = 0;
  for (size_t i = 0; i < n; i++) s += exp((double)(x[i] - m));
  return (double)m + log(s);
}

size_t gn_argmax(const float *x, size_t n) {
  size_t best = 0;
  for (size_t i = 1; i < n; i++)
    if (x[i] > x[best]) best = i;
  return best;
}

// MARK: - Selection and sorting for sampling

float gn_kth_largest(const float *x, size_t n, size_t k, float *scratch) {
  // Quickselect (Hoare partition) for the element of descending rank k - 1.
  memcpy(scratch, x, n * sizeof(float));
  size_t lo = 0, hi = n - 1, target = k - 1;
  while (lo < hi) {
    float pivot = scratch[lo + (hi - lo) / 2];
    size_t i = lo, j = hi;
    while (i <= j) {
      while (scratch[i] > pivot) i++;
      while (scratch[j] < pivot) j--;
      if (i <= j) {
        float t = scratch[i];
        scratch[i] = scratch[j];
        scratch[j] = t;
        i++;
        if (j == 0) break;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break;
  }
  return scratch[target];
}

typedef struct {
  float value;
  uint32_t index;
} gn_ranked;

static int gn_ranked_compare(const void *a, const void *b) {
  const gn_ranked *x = a, *y = b;
  if (x->value > y->value) return -1;
  if (x->value < y->value) return 1;
  return x->index < y->index ? -1 : (x->index > y->index);
}

void gn_argsort_descending(const float *x, size_t n, uint32_t *order) {
  gn_ranked *items = malloc(n * sizeof *items);
  if (!items) {
    for (size_t i = 0; i < n; i++) order[i] = (uint32_t)i;
    return;
  }
  for (size_t i = 0; i < n; i++) {
    items[i].value = x[i];
    items[i].index = (uint32_t)i;
  }
  qsort(items, n, sizeof *items, gn_ranked_compare);
  for (size_t i = 0; i < n; i++) order[i] = items[i].index;
  free(items);
}
