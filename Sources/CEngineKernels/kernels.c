#include "engine_kernels.h"

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
// AVX-512 kernels where the CPU has them, unless TUTOR_KERNELS=avx2 (to run the AVX2 kernels on
// an AVX-512 machine, e.g. the tests through both). Both sum everything in the same order, so they
// give the same bits; only the speed differs.
static int gn_has_avx512(void) {
  static int cached = -1;
  if (cached < 0) {
    __builtin_cpu_init();
    const char *choice = getenv("TUTOR_KERNELS");
    cached = __builtin_cpu_supports("avx512f") && !(choice && strcmp(choice, "avx2") == 0);
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

// MARK: - Horizontal sums

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

#endif

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

#if GN_X86
#define GN_LOAD_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define GN_LOAD_Q8(p) _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p))))

#endif

// MARK: - Packed weight matrices
//
// The weight matrices are repacked at load into panels of 16 output columns: panel p holds
// columns 16p ..< 16p + 16 as k lines of 16 weights (float32: one cache line a line; float16 and
// int8: a half and a quarter), zero past the last column. A product streams each panel front to
// back, and a tile keeps R rows of x by P panels of outputs in vector accumulators: each step of
// k broadcasts R values of x and loads (and converts) P lines of weights for R * P * 16
// multiply-adds, each accumulator lane one output, so there are no horizontal sums.
//
// Every output y[i, j] is one FMA chain over k in order, from zero, then times the column's
// scale (int8), plus the bias, whatever tile or machine computes it: AVX-512, AVX2 and the scalar
// fallback (fmaf) give the same bits, and float16 weights give what their float32 values give.
// So a row's result depends neither on the batch it is in nor on how a prompt is cut into
// chunks, and the tile shapes are free to suit the work:
// - up to 8 rows (decoding; AVX2 6): all rows in one tile with as many panels as the registers
//   allow, so the weights stream from memory once with enough independent FMA chains, each panel
//   prefetched GN_PACKED_PREFETCH cache lines ahead (a panel is a short stream, and the hardware
//   prefetcher alone lags on it);
// - more rows (prompts): tiles of 8 rows by 3 panels (AVX-512, 24 accumulators; AVX2 6 by 1),
//   the panels of a tile staying in L1/L2 while every row of x passes over them.

#define GN_PACKED_PREFETCH 16

size_t gn_packed_count(size_t n, size_t k) { return (n + 15) / 16 * 16 * k; }

#define GN_PACK(NAME, ROW, WT)                                                                           \
  void NAME(const WT *w, size_t n, size_t k, WT *packed, size_t panel_begin, size_t panel_end) {        \
    for (size_t p = panel_begin; p < panel_end; p++) {                                                   \
      WT *dst = packed + p * 16 * k;                                                                     \
      for (size_t c = 0; c < 16; c++) {                                                                  \
        size_t j = p * 16 + c;                                                                           \
        for (size_t kk = 0; kk < k; kk++) dst[kk * 16 + c] = j < n ? w[j * k + kk] : (WT)0;              \
      }                                                                                                  \
    }                                                                                                    \
  }                                                                                                      \
  void ROW(const WT *packed, size_t k, size_t row, WT *dst) {                                            \
    const WT *src = packed + (row / 16) * 16 * k + row % 16;                                             \
    for (size_t kk = 0; kk < k; kk++) dst[kk] = src[kk * 16];                                            \
  }
GN_PACK(gn_pack_f32, gn_packed_row_f32, float)
GN_PACK(gn_pack_f16, gn_packed_row_f16, uint16_t)
GN_PACK(gn_pack_q8, gn_packed_row_q8, int8_t)

#if GN_X86
#define GN_LOAD512_F32(p) _mm512_loadu_ps(p)
#define GN_LOAD512_F16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define GN_LOAD512_Q8(p) _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p))))
#define GN_LOAD_F32(p) _mm256_loadu_ps(p)

__attribute__((target("avx512f"), always_inline)) static inline __m512 gn_load_part512(const float *p, size_t valid) {
  return valid == 16 ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps((__mmask16)((1u << valid) - 1), p);
}
__attribute__((target("avx512f"), always_inline)) static inline void gn_store_part512(float *p, __m512 v, size_t valid) {
  if (valid == 16) _mm512_storeu_ps(p, v);
  else _mm512_mask_storeu_ps(p, (__mmask16)((1u << valid) - 1), v);
}
__attribute__((target("avx2"), always_inline)) static inline __m256i gn_mask256(size_t valid) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)valid), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
__attribute__((target("avx2"), always_inline)) static inline __m256 gn_load_part256(const float *p, size_t valid) {
  return valid == 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, gn_mask256(valid));
}
__attribute__((target("avx2"), always_inline)) static inline void gn_store_part256(float *p, __m256 v, size_t valid) {
  if (valid == 8) _mm256_storeu_ps(p, v);
  else _mm256_maskstore_ps(p, gn_mask256(valid), v);
}

// One tile: R rows of x by P panels (VPP vectors of LANES weights a panel), then
// y = acc * scale + bias for the columns before n_end (scale and bias may be NULL).
#define GN_PTILE_OF(NAME, WT, LOADW, TARGET, VEC, LANES, SETZERO, SET1, FMADD, MUL, ADD, LOAD_PART,       \
                    STORE_PART)                                                                          \
  __attribute__((target(TARGET), always_inline)) static inline void NAME(                                \
      const float *x, size_t ldx, const WT *wp, size_t k, const int R, const int P, const int prefetch,  \
      const float *scale, const float *bias, float *y, size_t ldy, size_t col0, size_t n_end) {          \
    enum { VPP = 16 / LANES };                                                                           \
    VEC acc[8][8];                                                                                       \
    for (int r = 0; r < R; r++)                                                                          \
      for (int v = 0; v < P * VPP; v++) acc[r][v] = SETZERO();                                           \
    for (size_t kk = 0; kk < k; kk++) {                                                                  \
      VEC wv[8];                                                                                         \
      for (int p = 0; p < P; p++) {                                                                      \
        const WT *line = wp + p * 16 * k + kk * 16;                                                      \
        if (prefetch && (kk * 16 * sizeof(WT)) % 64 == 0)                                                \
          _mm_prefetch((const char *)line + GN_PACKED_PREFETCH * 64, _MM_HINT_T0);                       \
        for (int v = 0; v < VPP; v++) wv[p * VPP + v] = LOADW(line + v * LANES);                         \
      }                                                                                                  \
      for (int r = 0; r < R; r++) {                                                                      \
        VEC xv = SET1(x[r * ldx + kk]);                                                                  \
        for (int v = 0; v < P * VPP; v++) acc[r][v] = FMADD(xv, wv[v], acc[r][v]);                       \
      }                                                                                                  \
    }                                                                                                    \
    for (int v = 0; v < P * VPP; v++) {                                                                  \
      size_t col = col0 + (size_t)v * LANES;                                                             \
      if (col >= n_end) break;                                                                           \
      size_t valid = n_end - col < LANES ? n_end - col : LANES;                                          \
      VEC b = bias ? LOAD_PART(bias + col, valid) : SETZERO();                                           \
      if (scale) {                                                                                       \
        VEC s = LOAD_PART(scale + col, valid);                                                           \
        for (int r = 0; r < R; r++) STORE_PART(y + r * ldy + col, ADD(MUL(acc[r][v], s), b), valid);     \
      } else {                                                                                           \
        for (int r = 0; r < R; r++) STORE_PART(y + r * ldy + col, ADD(acc[r][v], b), valid);             \
      }                                                                                                  \
    }                                                                                                    \
  }
#define GN_PTILE512(NAME, WT, LOADW)                                                                     \
  GN_PTILE_OF(NAME, WT, LOADW, "avx512f", __m512, 16, _mm512_setzero_ps, _mm512_set1_ps, _mm512_fmadd_ps, \
              _mm512_mul_ps, _mm512_add_ps, gn_load_part512, gn_store_part512)
#define GN_PTILE256(NAME, WT, LOADW)                                                                     \
  GN_PTILE_OF(NAME, WT, LOADW, "avx2,fma,f16c", __m256, 8, _mm256_setzero_ps, _mm256_set1_ps,            \
              _mm256_fmadd_ps, _mm256_mul_ps, _mm256_add_ps, gn_load_part256, gn_store_part256)

#define GN_PTILE_CASE(TILE, R, P)                                                                        \
  case 16 * R + P: TILE(x, ldx, wp, k, R, P, prefetch, scale, bias, y, ldy, col0, n_end); break;
#define GN_PTILE_CASES_TO3(TILE, R) GN_PTILE_CASE(TILE, R, 1) GN_PTILE_CASE(TILE, R, 2) GN_PTILE_CASE(TILE, R, 3)
#define GN_PTILE_CASES_TO6(TILE, R)                                                                      \
  GN_PTILE_CASES_TO3(TILE, R) GN_PTILE_CASE(TILE, R, 4) GN_PTILE_CASE(TILE, R, 5) GN_PTILE_CASE(TILE, R, 6)
#define GN_PTILE_CASES_TO8(TILE, R) GN_PTILE_CASES_TO6(TILE, R) GN_PTILE_CASE(TILE, R, 7) GN_PTILE_CASE(TILE, R, 8)

// The shapes each ISA uses (gn_ptile_panels), each case unrolled with constant R and P.
#define GN_PTILE_ANY512(NAME, TILE, WT)                                                                  \
  __attribute__((target("avx512f"))) static void NAME(const float *x, size_t ldx, const WT *wp, size_t k, \
                                                      int R, int P, int prefetch, const float *scale,    \
                                                      const float *bias, float *y, size_t ldy, size_t col0, \
                                                      size_t n_end) {                                    \
    switch (16 * R + P) {                                                                                \
      GN_PTILE_CASES_TO8(TILE, 1) GN_PTILE_CASES_TO8(TILE, 2) GN_PTILE_CASES_TO6(TILE, 3)                \
      GN_PTILE_CASES_TO6(TILE, 4) GN_PTILE_CASES_TO3(TILE, 5) GN_PTILE_CASES_TO3(TILE, 6)                \
      GN_PTILE_CASES_TO3(TILE, 7) GN_PTILE_CASES_TO3(TILE, 8)                                            \
    default: abort();                                                                                    \
    }                                                                                                    \
  }
#define GN_PTILE_ANY256(NAME, TILE, WT)                                                                  \
  __attribute__((target("avx2,fma,f16c"))) static void NAME(                                             \
      const float *x, size_t ldx, const WT *wp, size_t k, int R, int P, int prefetch, const float *scale, \
      const float *bias, float *y, size_t ldy, size_t col0, size_t n_end) {                              \
    switch (16 * R + P) {                                                                                \
      GN_PTILE_CASE(TILE, 1, 1) GN_PTILE_CASE(TILE, 1, 2) GN_PTILE_CASE(TILE, 1, 3)                      \
      GN_PTILE_CASE(TILE, 1, 4) GN_PTILE_CASE(TILE, 2, 1) GN_PTILE_CASE(TILE, 2, 2)                      \
      GN_PTILE_CASE(TILE, 3, 1) GN_PTILE_CASE(TILE, 3, 2) GN_PTILE_CASE(TILE, 4, 1)                      \
      GN_PTILE_CASE(TILE, 5, 1) GN_PTILE_CASE(TILE, 6, 1)                                                \
    default: abort();                                                                                    \
    }                                                                                                    \
  }
// Every weight format's tile and dispatch for one ISA: PREFIX_f32 / _f16 / _q8 and PREFIX_any_*.
#define GN_PTILES(TILE, ANY, PREFIX, LOAD_F32, LOAD_F16, LOAD_Q8)                                        \
  TILE(PREFIX##_f32, float, LOAD_F32)                                                                    \
  TILE(PREFIX##_f16, uint16_t, LOAD_F16)                                                                 \
  TILE(PREFIX##_q8, int8_t, LOAD_Q8)                                                                     \
  ANY(PREFIX##_any_f32, PREFIX##_f32, float)                                                             \
  ANY(PREFIX##_any_f16, PREFIX##_f16, uint16_t)                                                          \
  ANY(PREFIX##_any_q8, PREFIX##_q8, int8_t)
GN_PTILES(GN_PTILE512, GN_PTILE_ANY512, ptile512, GN_LOAD512_F32, GN_LOAD512_F16, GN_LOAD512_Q8)
GN_PTILES(GN_PTILE256, GN_PTILE_ANY256, ptile256, GN_LOAD_F32, GN_LOAD_F16, GN_LOAD_Q8)
#endif

// Panels a tile of R rows takes: AVX-512 has 32 vector registers, AVX2 16 (two a panel).
static int gn_ptile_panels(int R, int wide) {
  if (wide) return R <= 2 ? 8 : R <= 4 ? 6 : 3;
  return R == 1 ? 4 : R <= 3 ? 2 : 1;
}

#define GN_F32_VALUE(v) (v)
#define GN_F16_VALUE(v) half_to_float(v)
#define GN_Q8_VALUE(v) ((float)(v))

// The products: rows of x in tiles (all of them when few, else groups), panels in groups of P.
#define GN_LINEAR_PACKED(NAME, WT, WVAL, ANY512, ANY256)                                                 \
  void NAME(const float *x, size_t m, size_t k, const WT *wp, const float *scale, const float *bias, float *y, \
            size_t ldy, size_t n_begin, size_t n_end) {                                                  \
    if (m == 0) return;                                                                                  \
    int wide = 0, simd = 0;                                                                              \
    GN_IF_X86(wide = gn_has_avx512(); simd = wide || (gn_has_avx2_fma() && gn_has_f16c());)              \
    const size_t group = wide ? 8 : simd ? 6 : 8;                                                        \
    const size_t p0 = n_begin / 16, p1 = (n_end + 15) / 16;                                              \
    /* A few rows: one tile of all of them, the weights streamed (prefetched) once. More: tiles of  \
       `group` rows, each group of panels reused from cache by every group of rows; up to two groups \
       (a batch of decoding sequences on AVX2) the weights still stream, and are prefetched. (8    \
       rows on AVX2 as 4 + 4 instead of 6 + 2 measured slower: the weights read twice as often.) */ \
    const int few = m <= group, prefetch = m <= 2 * group;                                               \
    const size_t P = (size_t)gn_ptile_panels(few ? (int)m : (int)group, wide);                           \
    for (size_t p = p0; p < p1; p += P) {                                                                \
      int panels = p1 - p < P ? (int)(p1 - p) : (int)P;                                                  \
      for (size_t i = 0; i < m; i += group) {                                                            \
        int R = m - i < group ? (int)(m - i) : (int)group;                                               \
        const float *xi = x + i * k;                                                                     \
        float *yi = y + i * ldy;                                                                         \
        const WT *wpp = wp + p * 16 * k;                                                                 \
        GN_IF_X86(if (wide) {                                                                            \
          ANY512(xi, k, wpp, k, R, panels, prefetch, scale, bias, yi, ldy, p * 16, n_end);               \
          continue;                                                                                      \
        } if (simd) {                                                                                    \
          ANY256(xi, k, wpp, k, R, panels, prefetch, scale, bias, yi, ldy, p * 16, n_end);               \
          continue;                                                                                      \
        })                                                                                               \
        for (int r = 0; r < R; r++)                                                                      \
          for (size_t c = 0; c < 16 * (size_t)panels && p * 16 + c < n_end; c++) {                      \
            const WT *w = wpp + (c / 16) * 16 * k + c % 16;                                              \
            float acc = 0.0f;                                                                            \
            for (size_t kk = 0; kk < k; kk++) acc = fmaf(xi[r * k + kk], WVAL(w[kk * 16]), acc);        \
            size_t j = p * 16 + c;                                                                       \
            if (scale) acc *= scale[j];                                                                  \
            yi[r * ldy + j] = acc + (bias ? bias[j] : 0.0f);                                             \
          }                                                                                              \
      }                                                                                                  \
    }                                                                                                    \
  }
#if GN_X86
#define GN_IF_X86(...) __VA_ARGS__
#else
#define GN_IF_X86(...)
#endif
GN_LINEAR_PACKED(gn_linear_packed_f32, float, GN_F32_VALUE, ptile512_any_f32, ptile256_any_f32)
GN_LINEAR_PACKED(gn_linear_packed_f16, uint16_t, GN_F16_VALUE, ptile512_any_f16, ptile256_any_f16)
GN_LINEAR_PACKED(gn_linear_packed_q8, int8_t, GN_Q8_VALUE, ptile512_any_q8, ptile256_any_q8)

#if GN_X86
__attribute__((target("avx2"))) static float stream_sum_avx2(const float *x, size_t n) {
  __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps(), c = _mm256_setzero_ps(), d = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a = _mm256_add_ps(a, _mm256_loadu_ps(x + i));
    b = _mm256_add_ps(b, _mm256_loadu_ps(x + i + 8));
    c = _mm256_add_ps(c, _mm256_loadu_ps(x + i + 16));
    d = _mm256_add_ps(d, _mm256_loadu_ps(x + i + 24));
  }
  float s = hsum256(_mm256_add_ps(_mm256_add_ps(a, b), _mm256_add_ps(c, d)));
  for (; i < n; i++) s += x[i];
  return s;
}
#endif

float gn_stream_sum(const float *x, size_t n) {
#if GN_X86
  if (gn_has_avx2_fma()) return stream_sum_avx2(x, n);
#endif
  float s = 0;
  for (size_t i = 0; i < n; i++) s += x[i];
  return s;
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
// e^x for 8 lanes, x clamped to [-87.3, 88.7]: x = n·ln 2 + r (ln 2 split in two for exactness),
// e^r by a degree-6 polynomial on |r| <= ln 2 / 2 (Cephes' expf coefficients), 2^n by building the
// exponent bits. Within 2 ulp of expf.
__attribute__((target("avx2,fma"))) static inline __m256 exp256(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.7f));
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

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
#define GN_ATTENTION_ROW(NAME, TARGET, KEY_LANES, PV)                                                    \
  __attribute__((target(TARGET), always_inline)) static inline void NAME(                               \
      const float *qr, size_t lo, size_t p, const gn_kv_view *kv, size_t head_dim, float *o, float *scratch, \
      int format) {                                                                                      \
    const size_t stride = kv->stride, ring = kv->ring, ss = kv->scale_stride;                            \
    const size_t first = ring ? lo % ring : lo;                                                          \
    const int scaled = format == GN_KV_Q8;                                                               \
    const void *const keys = kv->k;                                                                      \
    const uint16_t *const key_scales = kv->k_scale;                                                      \
    float maxv = -FLT_MAX;                                                                               \
    __m256 maxs = _mm256_set1_ps(-FLT_MAX);                                                              \
    size_t j = lo, r = first;                                                                            \
    for (; j + 8 <= p + 1; j += 8) {                                                                     \
      size_t rows[8];                                                                                    \
      for (int t = 0; t < 8; t++, r = kv_next(r, ring)) rows[t] = r;                                     \
      __m256 s = gn_tree8x8(KEY_LANES(qr, keys, rows[0] * stride, head_dim, format),                     \
                            KEY_LANES(qr, keys, rows[1] * stride, head_dim, format),                     \
                            KEY_LANES(qr, keys, rows[2] * stride, head_dim, format),                     \
                            KEY_LANES(qr, keys, rows[3] * stride, head_dim, format),                     \
                            KEY_LANES(qr, keys, rows[4] * stride, head_dim, format),                     \
                            KEY_LANES(qr, keys, rows[5] * stride, head_dim, format),                     \
                            KEY_LANES(qr, keys, rows[6] * stride, head_dim, format),                     \
                            KEY_LANES(qr, keys, rows[7] * stride, head_dim, format));                    \
      if (scaled) {                                                                                      \
        float sc[8];                                                                                     \
        for (int t = 0; t < 8; t++) sc[t] = kv_scale(key_scales, rows[t], ss);                           \
        s = _mm256_mul_ps(s, _mm256_loadu_ps(sc));                                                       \
      }                                                                                                  \
      _mm256_storeu_ps(scratch + j, s);                                                                  \
      maxs = _mm256_max_ps(maxs, s);                                                                     \
    }                                                                                                    \
    {                                                                                                    \
      float m8[8];                                                                                       \
      _mm256_storeu_ps(m8, maxs);                                                                        \
      for (int t = 0; t < 8; t++) maxv = fmaxf(maxv, m8[t]);                                             \
    }                                                                                                    \
    for (; j <= p; j++, r = kv_next(r, ring)) {                                                          \
      float s = gn_tree8(KEY_LANES(qr, keys, r * stride, head_dim, format));                             \
      if (scaled) s *= kv_scale(key_scales, r, ss);                                                      \
      scratch[j] = s;                                                                                    \
      maxv = fmaxf(maxv, s);                                                                             \
    }                                                                                                    \
    const __m256 mv = _mm256_set1_ps(maxv);                                                              \
    __m256 sums = _mm256_setzero_ps();                                                                   \
    j = lo;                                                                                              \
    for (; j + 8 <= p + 1; j += 8) {                                                                     \
      __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(scratch + j), mv));                                \
      _mm256_storeu_ps(scratch + j, e);                                                                  \
      sums = _mm256_add_ps(sums, e);                                                                     \
    }                                                                                                    \
    float sum = hsum256(sums);                                                                           \
    for (; j <= p; j++) {                                                                                \
      float e = expf(scratch[j] - maxv);                                                                 \
      scratch[j] = e;                                                                                    \
      sum += e;                                                                                          \
    }                                                                                                    \
    const float inv = 1.0f / sum;                                                                        \
    if (scaled) {                                                                                        \
      /* Fold each value row's scale into its weight once, not once per block of dimensions. */        \
      r = first;                                                                                         \
      for (j = lo; j <= p; j++, r = kv_next(r, ring)) scratch[j] *= kv_scale(kv->v_scale, r, ss);        \
    }                                                                                                    \
    PV(kv->v, first, lo, p, ring, stride, head_dim, scratch, inv, o, format);                            \
  }

// The weighted sums of values, o[d] = sum of (scratch[i] * inv) * v_i[d] over the keys: keys lo,
// lo + 2, ... in one chain and lo + 1, lo + 3, ... in another, added at the end (two chains keep
// the FMA units busy where one would wait on its latency), 4 * LANES dimensions in registers
// while walking the keys, then LANES at a time. The same sums on AVX2 and AVX-512.
#define GN_VALUES(NAME, TARGET, VEC, LANES, SETZERO, SET1, FMADD, ADD, STOREU, LOADKV)                   \
  __attribute__((target(TARGET), always_inline)) static inline void NAME(                               \
      const void *values, size_t first, size_t lo, size_t p, size_t ring, size_t stride, size_t head_dim, \
      const float *scratch, float inv, float *o, int format) {                                          \
    size_t d = 0;                                                                                        \
    for (; d + 4 * LANES <= head_dim; d += 4 * LANES) {                                                  \
      VEC e[4] = {SETZERO(), SETZERO(), SETZERO(), SETZERO()};                                           \
      VEC f[4] = {SETZERO(), SETZERO(), SETZERO(), SETZERO()};                                           \
      size_t r = first, i = lo;                                                                          \
      for (; i + 1 <= p; i += 2) {                                                                       \
        size_t r1 = kv_next(r, ring);                                                                    \
        VEC pe = SET1(scratch[i] * inv), pf = SET1(scratch[i + 1] * inv);                                \
        for (int c = 0; c < 4; c++) {                                                                    \
          e[c] = FMADD(pe, LOADKV(values, r * stride + d + c * LANES, format), e[c]);                    \
          f[c] = FMADD(pf, LOADKV(values, r1 * stride + d + c * LANES, format), f[c]);                   \
        }                                                                                                \
        r = kv_next(r1, ring);                                                                           \
      }                                                                                                  \
      if (i == p) {                                                                                      \
        VEC pe = SET1(scratch[i] * inv);                                                                 \
        for (int c = 0; c < 4; c++) e[c] = FMADD(pe, LOADKV(values, r * stride + d + c * LANES, format), e[c]); \
      }                                                                                                  \
      for (int c = 0; c < 4; c++) STOREU(o + d + c * LANES, ADD(e[c], f[c]));                            \
    }                                                                                                    \
    for (; d < head_dim; d += LANES) {                                                                   \
      VEC e = SETZERO(), f = SETZERO();                                                                  \
      size_t r = first, i = lo;                                                                          \
      for (; i + 1 <= p; i += 2) {                                                                       \
        size_t r1 = kv_next(r, ring);                                                                    \
        e = FMADD(SET1(scratch[i] * inv), LOADKV(values, r * stride + d, format), e);                    \
        f = FMADD(SET1(scratch[i + 1] * inv), LOADKV(values, r1 * stride + d, format), f);               \
        r = kv_next(r1, ring);                                                                           \
      }                                                                                                  \
      if (i == p) e = FMADD(SET1(scratch[i] * inv), LOADKV(values, r * stride + d, format), e);           \
      STOREU(o + d, ADD(e, f));                                                                          \
    }                                                                                                    \
  }
GN_VALUES(values256, "avx2,fma,f16c", __m256, 8, _mm256_setzero_ps, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps,
          _mm256_storeu_ps,
          kv_load8)
GN_VALUES(values512, "avx512f", __m512, 16, _mm512_setzero_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps,
          _mm512_storeu_ps,
          kv_load16)

GN_ATTENTION_ROW(attention_row256, "avx2,fma,f16c", key_lanes256, values256)
GN_ATTENTION_ROW(attention_row512, "avx512f,avx2,fma,f16c", key_lanes512, values512)

#define GN_ATTENTION_ROW_FORMAT(NAME, BODY, TARGET, FORMAT)                                              \
  __attribute__((target(TARGET))) static void NAME(const float *qr, size_t lo, size_t p, const gn_kv_view *kv, \
                                                   size_t head_dim, float *o, float *scratch) {          \
    BODY(qr, lo, p, kv, head_dim, o, scratch, FORMAT);                                                   \
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

// MARK: - Fingerprints

static inline uint64_t fp_mix(uint64_t h, uint64_t w) {
  h ^= w * 0x9E3779B97F4A7C15ull;
  h = (h << 31) | (h >> 33);
  return h * 0xC2B2AE3D27D4EB4Full;
}

uint64_t gn_fingerprint64(const void *data, size_t n, uint64_t seed) {
  const unsigned char *p = data;
  uint64_t a = seed ^ 0x243F6A8885A308D3ull, b = seed ^ 0x13198A2E03707344ull;
  uint64_t c = seed ^ 0xA4093822299F31D0ull, d = seed ^ 0x082EFA98EC4E6C89ull;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    uint64_t w[4];
    memcpy(w, p + i, 32);
    a = fp_mix(a, w[0]);
    b = fp_mix(b, w[1]);
    c = fp_mix(c, w[2]);
    d = fp_mix(d, w[3]);
  }
  uint64_t h = fp_mix(fp_mix(fp_mix(fp_mix((uint64_t)n, a), b), c), d);
  for (; i < n; i++) h = fp_mix(h, p[i]);
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  return h;
}
