#include "simd.h"

// MARK: - Attention

// The cache row that holds position j: row j % ring, walked incrementally (no division per key).
static inline size_t kv_next(size_t row, size_t ring) { return row + 1 == ring ? 0 : row + 1; }

static inline float kv_scalar(const void *base, size_t index, int format) {
  switch (format) {
  case GN_KV_F16: return half_to_float(((const uint16_t *)base)[index]);
  case GN_KV_Q8: return (float)((const int8_t *)base)[index];
  default: return ((const float *)base)[index];
  }
}

// The per-(row, head) scale of an int8 cache (float16).
static inline float kv_scale(const uint16_t *scales, size_t row, size_t stride) {
  return half_to_float(scales[row * stride]);
}

#if GN_X86
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline __m256 kv_load8(const void *base, size_t index,
                                                                                      int format) {
  switch (format) {
  case GN_KV_F16: return GN_LOAD_F16((const uint16_t *)base + index);
  case GN_KV_Q8: return GN_LOAD_Q8((const int8_t *)base + index);
  default: return _mm256_loadu_ps((const float *)base + index);
  }
}
__attribute__((target("avx512f"), always_inline)) static inline __m512 kv_load16(const void *base, size_t index,
                                                                                int format) {
  switch (format) {
  case GN_KV_F16: return GN_LOAD512_F16((const uint16_t *)base + index);
  case GN_KV_Q8: return GN_LOAD512_Q8((const int8_t *)base + index);
  default: return _mm512_loadu_ps((const float *)base + index);
  }
}

// A score q · k is summed in one order on every machine (head_dim % 16 == 0): 16 lanes, lane l
// accumulating q[16c + l] * k[16c + l] over the chunks c in order (FMA); lanes l and l + 8 added;
// then the 8 sums as ((y0 + y1) + (y2 + y3)) + ((y4 + y5) + (y6 + y7)). AVX-512 holds the 16 lanes
// in one register, AVX2 in two; eight keys' last steps are one transposing tree of hadds
// (gn_tree8x8), a key on its own the same sums in scalar code (gn_tree8).
__attribute__((target("avx512f"), always_inline)) static inline __m256 key_lanes512(const float *qr, const void *keys,
                                                                                   size_t off, size_t head_dim,
                                                                                   int format) {
  __m512 acc = _mm512_setzero_ps();
  for (size_t d = 0; d < head_dim; d += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(qr + d), kv_load16(keys, off + d, format), acc);
  return _mm256_add_ps(_mm512_castps512_ps256(acc), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1)));
}
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline __m256 key_lanes256(const float *qr, const void *keys,
                                                                                         size_t off, size_t head_dim,
                                                                                         int format) {
  __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
  for (size_t d = 0; d < head_dim; d += 16) {
    lo = _mm256_fmadd_ps(_mm256_loadu_ps(qr + d), kv_load8(keys, off + d, format), lo);
    hi = _mm256_fmadd_ps(_mm256_loadu_ps(qr + d + 8), kv_load8(keys, off + d + 8, format), hi);
  }
  return _mm256_add_ps(lo, hi);
}
__attribute__((target("avx2"), always_inline)) static inline __m256 gn_tree8x8(__m256 y0, __m256 y1, __m256 y2, __m256 y3,
                                                                              __m256 y4, __m256 y5, __m256 y6,
                                                                              __m256 y7) {
  __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(y0, y1), _mm256_hadd_ps(y2, y3));
  __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(y4, y5), _mm256_hadd_ps(y6, y7));
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}
__attribute__((target("avx2"), always_inline)) static inline float gn_tree8(__m256 v) {
  float y[8];
  _mm256_storeu_ps(y, v);
  return ((y[0] + y[1]) + (y[2] + y[3])) + ((y[4] + y[5]) + (y[6] + y[7]));
}

// One query row's causal (optionally windowed) attention over one head: scores eight keys at a
// time (above), the softmax exponentials 8 at a time (exp256, as gelu uses), and the weighted sum
// of values with 32 (AVX2) or 64 (AVX-512) output dimensions in registers while it walks the keys,
// each dimension summed over the keys in order, so the same on both. `format` is a constant in
// each instance below, so every cache format gets its own specialised loop; a float32 cache
// multiplies by no scale.
#define GN_ATTENTION_ROW(NAME, TARGET, KEY_LANES, PV)                                                   \
  __attribute__((target(TARGET), always_inline)) static inline void NAME(                               \
      const float *qr, size_t lo, size_t p, const gn_kv_view *kv, size_t head_dim, float *o, float *scratch, \
      int format) {                                                                                     \
    const size_t stride = kv->stride, ring = kv->ring, ss = kv->scale_stride;                           \
    const size_t first = ring ? lo % ring : lo;                                                         \
    const int scaled = format == GN_KV_Q8;                                                              \
    const void *const keys = kv->k;                                                                     \
    const uint16_t *const key_scales = kv->k_scale;                                                     \
    float maxv = -FLT_MAX;                                                                              \
    __m256 maxs = _mm256_set1_ps(-FLT_MAX);                                                             \
    size_t j = lo, r = first;                                                                           \
    for (; j + 8 <= p + 1; j += 8) {                                                                    \
      size_t rows[8];                                                                                   \
      for (int t = 0; t < 8; t++, r = kv_next(r, ring)) rows[t] = r;                                    \
      __m256 s = gn_tree8x8(KEY_LANES(qr, keys, rows[0] * stride, head_dim, format),                    \
                            KEY_LANES(qr, keys, rows[1] * stride, head_dim, format),                    \
                            KEY_LANES(qr, keys, rows[2] * stride, head_dim, format),                    \
                            KEY_LANES(qr, keys, rows[3] * stride, head_dim, format),                    \
                            KEY_LANES(qr, keys, rows[4] * stride, head_dim, format),                    \
                            KEY_LANES(qr, keys, rows[5] * stride, head_dim, format),                    \
                            KEY_LANES(qr, keys, rows[6] * stride, head_dim, format),                    \
                            KEY_LANES(qr, keys, rows[7] * stride, head_dim, format));                   \
      if (scaled) {                                                                                     \
        float sc[8];                                                                                    \
        for (int t = 0; t < 8; t++) sc[t] = kv_scale(key_scales, rows[t], ss);                          \
        s = _mm256_mul_ps(s, _mm256_loadu_ps(sc));                                                      \
      }                                                                                                 \
      _mm256_storeu_ps(scratch + j, s);                                                                 \
      maxs = _mm256_max_ps(maxs, s);                                                                    \
    }                                                                                                   \
    {                                                                                                   \
      float m8[8];                                                                                      \
      _mm256_storeu_ps(m8, maxs);                                                                       \
      for (int t = 0; t < 8; t++) maxv = fmaxf(maxv, m8[t]);                                            \
    }                                                                                                   \
    for (; j <= p; j++, r = kv_next(r, ring)) {                                                         \
      float s = gn_tree8(KEY_LANES(qr, keys, r * stride, head_dim, format));                            \
      if (scaled) s *= kv_scale(key_scales, r, ss);                                                     \
      scratch[j] = s;                                                                                   \
      maxv = fmaxf(maxv, s);                                                                            \
    }                                                                                                   \
    const __m256 mv = _mm256_set1_ps(maxv);                                                             \
    __m256 sums = _mm256_setzero_ps();                                                                  \
    j = lo;                                                                                             \
    for (; j + 8 <= p + 1; j += 8) {                                                                    \
      __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(scratch + j), mv));                               \
      _mm256_storeu_ps(scratch + j, e);                                                                 \
      sums = _mm256_add_ps(sums, e);                                                                    \
    }                                                                                                   \
    float sum = hsum256(sums);                                                                          \
    for (; j <= p; j++) {                                                                               \
      float e = expf(scratch[j] - maxv);                                                                \
      scratch[j] = e;                                                                                   \
      sum += e;                                                                                         \
    }                                                                                                   \
    const float inv = 1.0f / sum;                                                                       \
    if (scaled) {                                                                                       \
      /* Fold each value row's scale into its weight once, not once per block of dimensions. */         \
      r = first;                                                                                        \
      for (j = lo; j <= p; j++, r = kv_next(r, ring)) scratch[j] *= kv_scale(kv->v_scale, r, ss);       \
    }                                                                                                   \
    PV(kv->v, first, lo, p, ring, stride, head_dim, scratch, inv, o, format);                           \
  }

// The weighted sums of values, o[d] = sum of (scratch[i] * inv) * v_i[d] over the keys: keys lo,
// lo + 2, ... in one chain and lo + 1, lo + 3, ... in another, added at the end (two chains keep
// the FMA units busy where one would wait on its latency), 4 * LANES dimensions in registers
// while walking the keys, then LANES at a time. The same sums on AVX2 and AVX-512.
#define GN_VALUES(NAME, ISA, LOADKV)                                                                    \
  __attribute__((target(ISA##_TARGET), always_inline)) static inline void NAME(                         \
      const void *values, size_t first, size_t lo, size_t p, size_t ring, size_t stride, size_t head_dim, \
      const float *scratch, float inv, float *o, int format) {                                          \
    size_t d = 0;                                                                                       \
    for (; d + 4 * ISA##_LANES <= head_dim; d += 4 * ISA##_LANES) {                                     \
      ISA##_VEC e[4] = {ISA##_SETZERO(), ISA##_SETZERO(), ISA##_SETZERO(), ISA##_SETZERO()};            \
      ISA##_VEC f[4] = {ISA##_SETZERO(), ISA##_SETZERO(), ISA##_SETZERO(), ISA##_SETZERO()};            \
      size_t r = first, i = lo;                                                                         \
      for (; i + 1 <= p; i += 2) {                                                                      \
        size_t r1 = kv_next(r, ring);                                                                   \
        ISA##_VEC pe = ISA##_SET1(scratch[i] * inv), pf = ISA##_SET1(scratch[i + 1] * inv);             \
        for (int c = 0; c < 4; c++) {                                                                   \
          e[c] = ISA##_FMADD(pe, LOADKV(values, r * stride + d + c * ISA##_LANES, format), e[c]);       \
          f[c] = ISA##_FMADD(pf, LOADKV(values, r1 * stride + d + c * ISA##_LANES, format), f[c]);      \
        }                                                                                               \
        r = kv_next(r1, ring);                                                                          \
      }                                                                                                 \
      if (i == p) {                                                                                     \
        ISA##_VEC pe = ISA##_SET1(scratch[i] * inv);                                                    \
        for (int c = 0; c < 4; c++) e[c] = ISA##_FMADD(pe, LOADKV(values, r * stride + d + c * ISA##_LANES, format), e[c]); \
      }                                                                                                 \
      for (int c = 0; c < 4; c++) ISA##_STOREU(o + d + c * ISA##_LANES, ISA##_ADD(e[c], f[c]));         \
    }                                                                                                   \
    for (; d < head_dim; d += ISA##_LANES) {                                                            \
      ISA##_VEC e = ISA##_SETZERO(), f = ISA##_SETZERO();                                               \
      size_t r = first, i = lo;                                                                         \
      for (; i + 1 <= p; i += 2) {                                                                      \
        size_t r1 = kv_next(r, ring);                                                                   \
        e = ISA##_FMADD(ISA##_SET1(scratch[i] * inv), LOADKV(values, r * stride + d, format), e);       \
        f = ISA##_FMADD(ISA##_SET1(scratch[i + 1] * inv), LOADKV(values, r1 * stride + d, format), f);  \
        r = kv_next(r1, ring);                                                                          \
      }                                                                                                 \
      if (i == p) e = ISA##_FMADD(ISA##_SET1(scratch[i] * inv), LOADKV(values, r * stride + d, format), e); \
      ISA##_STOREU(o + d, ISA##_ADD(e, f));                                                             \
    }                                                                                                   \
  }
GN_VALUES(values256, GN256, kv_load8)
GN_VALUES(values512, GN512, kv_load16)

GN_ATTENTION_ROW(attention_row256, "avx2,fma,f16c", key_lanes256, values256)
GN_ATTENTION_ROW(attention_row512, "avx512f,avx2,fma,f16c", key_lanes512, values512)

#define GN_ATTENTION_ROW_FORMAT(NAME, BODY, TARGET, FORMAT)                                             \
  __attribute__((target(TARGET))) static void NAME(const float *qr, size_t lo, size_t p, const gn_kv_view *kv, \
                                                   size_t head_dim, float *o, float *scratch) {         \
    BODY(qr, lo, p, kv, head_dim, o, scratch, FORMAT);                                                  \
  }
GN_ATTENTION_ROW_FORMAT(attention_row_f32, attention_row256, "avx2,fma,f16c", GN_KV_F32)
GN_ATTENTION_ROW_FORMAT(attention_row_f16, attention_row256, "avx2,fma,f16c", GN_KV_F16)
GN_ATTENTION_ROW_FORMAT(attention_row_q8, attention_row256, "avx2,fma,f16c", GN_KV_Q8)
GN_ATTENTION_ROW_FORMAT(attention_row512_f32, attention_row512, "avx512f,avx2,fma,f16c", GN_KV_F32)
GN_ATTENTION_ROW_FORMAT(attention_row512_f16, attention_row512, "avx512f,avx2,fma,f16c", GN_KV_F16)
GN_ATTENTION_ROW_FORMAT(attention_row512_q8, attention_row512, "avx512f,avx2,fma,f16c", GN_KV_Q8)
#endif

void gn_attention_head(const float *q, size_t q_stride, size_t t_new, size_t past, const gn_kv_view *kv,
                       size_t head_dim, size_t window, float *out, size_t out_stride, float *scratch) {
#if GN_X86
  if (head_dim % 16 == 0 && gn_has_avx2_fma() && gn_has_f16c()) {
    void (*row)(const float *, size_t, size_t, const gn_kv_view *, size_t, float *, float *);
    if (gn_has_avx512())
      row = kv->format == GN_KV_F16  ? attention_row512_f16
            : kv->format == GN_KV_Q8 ? attention_row512_q8
                                     : attention_row512_f32;
    else
      row = kv->format == GN_KV_F16 ? attention_row_f16 : kv->format == GN_KV_Q8 ? attention_row_q8 : attention_row_f32;
    for (size_t t = 0; t < t_new; t++) {
      size_t p = past + t;
      size_t lo = (window > 0 && p + 1 > window) ? p + 1 - window : 0;
      row(q + t * q_stride, lo, p, kv, head_dim, out + t * out_stride, scratch);
    }
    return;
  }
#endif
  const int format = kv->format, scaled = format == GN_KV_Q8;
  const size_t ring = kv->ring, stride = kv->stride, ss = kv->scale_stride;
  for (size_t t = 0; t < t_new; t++) {
    size_t p = past + t;
    size_t lo = (window > 0 && p + 1 > window) ? p + 1 - window : 0;
    size_t first = ring ? lo % ring : lo;
    const float *qr = q + t * q_stride;
    float maxv = -FLT_MAX;
    size_t r = first;
    for (size_t j = lo; j <= p; j++, r = kv_next(r, ring)) {
      float s = 0;
      for (size_t d = 0; d < head_dim; d++) s += qr[d] * kv_scalar(kv->k, r * stride + d, format);
      if (scaled) s *= kv_scale(kv->k_scale, r, ss);
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
    r = first;
    for (size_t j = lo; j <= p; j++, r = kv_next(r, ring)) {
      float pj = scratch[j] * inv;
      if (scaled) pj *= kv_scale(kv->v_scale, r, ss);
      for (size_t d = 0; d < head_dim; d++) o[d] += pj * kv_scalar(kv->v, r * stride + d, format);
    }
  }
}

// One row of an int8 cache: each head's values over its float16 scale (the scale as stored, so
// that q * scale is the value read back), rounded to nearest and clamped to ±127.
static void kv_quantize_row(const float *x, size_t heads, size_t head_dim, int8_t *q, uint16_t *scales) {
  for (size_t h = 0; h < heads; h++) {
    const float *xh = x + h * head_dim;
    float amax = 0;
    for (size_t i = 0; i < head_dim; i++) amax = fmaxf(amax, fabsf(xh[i]));
    uint16_t stored = float_to_half(amax / 127.0f);
    scales[h] = stored;
    float scale = half_to_float(stored);
    float inv = scale > 0 ? 1.0f / scale : 0.0f;
    for (size_t i = 0; i < head_dim; i++) {
      float v = nearbyintf(xh[i] * inv);
      q[h * head_dim + i] = (int8_t)(v > 127 ? 127 : (v < -127 ? -127 : v));
    }
  }
}

void gn_kv_store(const float *src, size_t rows, size_t first, size_t ring, size_t dim, size_t heads, int format,
                 void *dst, uint16_t *scales) {
  for (size_t i = 0; i < rows; i++) {
    size_t row = ring ? (first + i) % ring : first + i;
    const float *s = src + i * dim;
    switch (format) {
    case GN_KV_F16: gn_f32_to_f16(s, (uint16_t *)dst + row * dim, dim); break;
    case GN_KV_Q8: kv_quantize_row(s, heads, dim / heads, (int8_t *)dst + row * dim, scales + row * heads); break;
    default: memcpy((float *)dst + row * dim, s, dim * sizeof(float)); break;
    }
  }
}
