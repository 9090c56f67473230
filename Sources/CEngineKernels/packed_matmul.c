#include "simd.h"

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

#define GN_PACK(NAME, ROW, WT)                                                                          \
  void NAME(const WT *w, size_t n, size_t k, WT *packed, size_t panel_begin, size_t panel_end) {        \
    for (size_t p = panel_begin; p < panel_end; p++) {                                                  \
      WT *dst = packed + p * 16 * k;                                                                    \
      for (size_t c = 0; c < 16; c++) {                                                                 \
        size_t j = p * 16 + c;                                                                          \
        for (size_t kk = 0; kk < k; kk++) dst[kk * 16 + c] = j < n ? w[j * k + kk] : (WT)0;             \
      }                                                                                                 \
    }                                                                                                   \
  }                                                                                                     \
  void ROW(const WT *packed, size_t k, size_t row, WT *dst) {                                           \
    const WT *src = packed + (row / 16) * 16 * k + row % 16;                                            \
    for (size_t kk = 0; kk < k; kk++) dst[kk] = src[kk * 16];                                           \
  }
GN_PACK(gn_pack_f32, gn_packed_row_f32, float)
GN_PACK(gn_pack_f16, gn_packed_row_f16, uint16_t)
GN_PACK(gn_pack_q8, gn_packed_row_q8, int8_t)

#if GN_X86
// One tile: R rows of x by P panels (VPP vectors of LANES weights a panel), then
// y = acc * scale + bias for the columns before n_end (scale and bias may be NULL).
#define GN_PTILE_OF(NAME, WT, LOADW, ISA)                                                               \
  __attribute__((target(ISA##_TARGET), always_inline)) static inline void NAME(                         \
      const float *x, size_t ldx, const WT *wp, size_t k, const int R, const int P, const int prefetch, \
      const float *scale, const float *bias, float *y, size_t ldy, size_t col0, size_t n_end) {         \
    enum { VPP = 16 / ISA##_LANES };                                                                    \
    ISA##_VEC acc[8][8];                                                                                \
    for (int r = 0; r < R; r++)                                                                         \
      for (int v = 0; v < P * VPP; v++) acc[r][v] = ISA##_SETZERO();                                    \
    for (size_t kk = 0; kk < k; kk++) {                                                                 \
      ISA##_VEC wv[8];                                                                                  \
      for (int p = 0; p < P; p++) {                                                                     \
        const WT *line = wp + p * 16 * k + kk * 16;                                                     \
        if (prefetch && (kk * 16 * sizeof(WT)) % 64 == 0)                                               \
          _mm_prefetch((const char *)line + GN_PACKED_PREFETCH * 64, _MM_HINT_T0);                      \
        for (int v = 0; v < VPP; v++) wv[p * VPP + v] = LOADW(line + v * ISA##_LANES);                  \
      }                                                                                                 \
      for (int r = 0; r < R; r++) {                                                                     \
        ISA##_VEC xv = ISA##_SET1(x[r * ldx + kk]);                                                     \
        for (int v = 0; v < P * VPP; v++) acc[r][v] = ISA##_FMADD(xv, wv[v], acc[r][v]);                \
      }                                                                                                 \
    }                                                                                                   \
    for (int v = 0; v < P * VPP; v++) {                                                                 \
      size_t col = col0 + (size_t)v * ISA##_LANES;                                                      \
      if (col >= n_end) break;                                                                          \
      size_t valid = n_end - col < ISA##_LANES ? n_end - col : ISA##_LANES;                             \
      ISA##_VEC b = bias ? ISA##_LOAD_PART(bias + col, valid) : ISA##_SETZERO();                        \
      if (scale) {                                                                                      \
        ISA##_VEC s = ISA##_LOAD_PART(scale + col, valid);                                              \
        for (int r = 0; r < R; r++) ISA##_STORE_PART(y + r * ldy + col, ISA##_ADD(ISA##_MUL(acc[r][v], s), b), valid); \
      } else {                                                                                          \
        for (int r = 0; r < R; r++) ISA##_STORE_PART(y + r * ldy + col, ISA##_ADD(acc[r][v], b), valid); \
      }                                                                                                 \
    }                                                                                                   \
  }
#define GN_PTILE512(NAME, WT, LOADW) GN_PTILE_OF(NAME, WT, LOADW, GN512)
#define GN_PTILE256(NAME, WT, LOADW) GN_PTILE_OF(NAME, WT, LOADW, GN256)

#define GN_PTILE_CASE(TILE, R, P)                                                                       \
  case 16 * R + P: TILE(x, ldx, wp, k, R, P, prefetch, scale, bias, y, ldy, col0, n_end); break;
#define GN_PTILE_CASES_TO3(TILE, R) GN_PTILE_CASE(TILE, R, 1) GN_PTILE_CASE(TILE, R, 2) GN_PTILE_CASE(TILE, R, 3)
#define GN_PTILE_CASES_TO6(TILE, R)                                                                     \
  GN_PTILE_CASES_TO3(TILE, R) GN_PTILE_CASE(TILE, R, 4) GN_PTILE_CASE(TILE, R, 5) GN_PTILE_CASE(TILE, R, 6)
#define GN_PTILE_CASES_TO8(TILE, R) GN_PTILE_CASES_TO6(TILE, R) GN_PTILE_CASE(TILE, R, 7) GN_PTILE_CASE(TILE, R, 8)

// The shapes each ISA uses (gn_ptile_panels), each case unrolled with constant R and P.
#define GN_PTILE_ANY512(NAME, TILE, WT)                                                                 \
  __attribute__((target("avx512f"))) static void NAME(const float *x, size_t ldx, const WT *wp, size_t k, \
                                                      int R, int P, int prefetch, const float *scale,   \
                                                      const float *bias, float *y, size_t ldy, size_t col0, \
                                                      size_t n_end) {                                   \
    switch (16 * R + P) {                                                                               \
      GN_PTILE_CASES_TO8(TILE, 1) GN_PTILE_CASES_TO8(TILE, 2) GN_PTILE_CASES_TO6(TILE, 3)               \
      GN_PTILE_CASES_TO6(TILE, 4) GN_PTILE_CASES_TO3(TILE, 5) GN_PTILE_CASES_TO3(TILE, 6)               \
      GN_PTILE_CASES_TO3(TILE, 7) GN_PTILE_CASES_TO3(TILE, 8)                                           \
    default: abort();                                                                                   \
    }                                                                                                   \
  }
#define GN_PTILE_ANY256(NAME, TILE, WT)                                                                 \
  __attribute__((target("avx2,fma,f16c"))) static void NAME(                                            \
      const float *x, size_t ldx, const WT *wp, size_t k, int R, int P, int prefetch, const float *scale, \
      const float *bias, float *y, size_t ldy, size_t col0, size_t n_end) {                             \
    switch (16 * R + P) {                                                                               \
      GN_PTILE_CASE(TILE, 1, 1) GN_PTILE_CASE(TILE, 1, 2) GN_PTILE_CASE(TILE, 1, 3)                     \
      GN_PTILE_CASE(TILE, 1, 4) GN_PTILE_CASE(TILE, 2, 1) GN_PTILE_CASE(TILE, 2, 2)                     \
      GN_PTILE_CASE(TILE, 3, 1) GN_PTILE_CASE(TILE, 3, 2) GN_PTILE_CASE(TILE, 4, 1)                     \
      GN_PTILE_CASE(TILE, 5, 1) GN_PTILE_CASE(TILE, 6, 1)                                               \
    default: abort();                                                                                   \
    }                                                                                                   \
  }
// Every weight format's tile and dispatch for one ISA: PREFIX_f32 / _f16 / _q8 and PREFIX_any_*.
#define GN_PTILES(TILE, ANY, PREFIX, LOAD_F32, LOAD_F16, LOAD_Q8)                                       \
  TILE(PREFIX##_f32, float, LOAD_F32)                                                                   \
  TILE(PREFIX##_f16, uint16_t, LOAD_F16)                                                                \
  TILE(PREFIX##_q8, int8_t, LOAD_Q8)                                                                    \
  ANY(PREFIX##_any_f32, PREFIX##_f32, float)                                                            \
  ANY(PREFIX##_any_f16, PREFIX##_f16, uint16_t)                                                         \
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
#define GN_LINEAR_PACKED(NAME, WT, WVAL, ANY512, ANY256)                                                \
  void NAME(const float *x, size_t m, size_t k, const WT *wp, const float *scale, const float *bias, float *y, \
            size_t ldy, size_t n_begin, size_t n_end) {                                                 \
    if (m == 0) return;                                                                                 \
    int wide = 0, simd = 0;                                                                             \
    GN_IF_X86(wide = gn_has_avx512(); simd = wide || (gn_has_avx2_fma() && gn_has_f16c());)             \
    const size_t group = wide ? 8 : simd ? 6 : 8;                                                       \
    const size_t p0 = n_begin / 16, p1 = (n_end + 15) / 16;                                             \
    /* A few rows: one tile of all of them, the weights streamed (prefetched) once. More: tiles of      \
       `group` rows, each group of panels reused from cache by every group of rows; up to two groups    \
       (a batch of decoding sequences on AVX2) the weights still stream, and are prefetched. (8         \
       rows on AVX2 as 4 + 4 instead of 6 + 2 measured slower: the weights read twice as often.) */     \
    const int few = m <= group, prefetch = m <= 2 * group;                                              \
    const size_t P = (size_t)gn_ptile_panels(few ? (int)m : (int)group, wide);                          \
    for (size_t p = p0; p < p1; p += P) {                                                               \
      int panels = p1 - p < P ? (int)(p1 - p) : (int)P;                                                 \
      for (size_t i = 0; i < m; i += group) {                                                           \
        int R = m - i < group ? (int)(m - i) : (int)group;                                              \
        const float *xi = x + i * k;                                                                    \
        float *yi = y + i * ldy;                                                                        \
        const WT *wpp = wp + p * 16 * k;                                                                \
        GN_IF_X86(if (wide) {                                                                           \
          ANY512(xi, k, wpp, k, R, panels, prefetch, scale, bias, yi, ldy, p * 16, n_end);              \
          continue;                                                                                     \
        } if (simd) {                                                                                   \
          ANY256(xi, k, wpp, k, R, panels, prefetch, scale, bias, yi, ldy, p * 16, n_end);              \
          continue;                                                                                     \
        })                                                                                              \
        for (int r = 0; r < R; r++)                                                                     \
          for (size_t c = 0; c < 16 * (size_t)panels && p * 16 + c < n_end; c++) {                      \
            const WT *w = wpp + (c / 16) * 16 * k + c % 16;                                             \
            float acc = 0.0f;                                                                           \
            for (size_t kk = 0; kk < k; kk++) acc = fmaf(xi[r * k + kk], WVAL(w[kk * 16]), acc);        \
            size_t j = p * 16 + c;                                                                      \
            if (scale) acc *= scale[j];                                                                 \
            yi[r * ldy + j] = acc + (bias ? bias[j] : 0.0f);                                            \
          }                                                                                             \
      }                                                                                                 \
    }                                                                                                   \
  }
GN_LINEAR_PACKED(gn_linear_packed_f32, float, GN_F32_VALUE, ptile512_any_f32, ptile256_any_f32)
GN_LINEAR_PACKED(gn_linear_packed_f16, uint16_t, GN_F16_VALUE, ptile512_any_f16, ptile256_any_f16)
GN_LINEAR_PACKED(gn_linear_packed_q8, int8_t, GN_Q8_VALUE, ptile512_any_q8, ptile256_any_q8)
