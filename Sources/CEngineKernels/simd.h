// What every kernel file shares: the x86 switch, the CPU features the dispatch asks about, and
// the SIMD mappings (loads of each weight format, partial loads and stores, horizontal sums, the
// vector exponential) written once here, as ggml's simd-mappings.h does, so that the kernel files
// (packed_matmul.c, attention.c, elementwise.c, conversions.c) say what they compute.
// Internal to the C target: Swift sees only include/engine_kernels.h.
#ifndef GN_SIMD_H
#define GN_SIMD_H

#include "engine_kernels.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#define GN_X86 1
#include <immintrin.h>
#endif

// Code that exists only on x86 (arguments of the dispatch macros).
#if GN_X86
#define GN_IF_X86(...) __VA_ARGS__
#else
#define GN_IF_X86(...)
#endif

// MARK: - CPU features (cpu_features.c)

#if GN_X86
int gn_has_avx2_fma(void);
int gn_has_avx512(void);
int gn_has_f16c(void);
#endif

// MARK: - float16 by hand (load time, and the scalar fallbacks)

static inline uint16_t float_to_half(float f) {
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

static inline float half_to_float(uint16_t h) {
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

// MARK: - Loads of each weight format, partial loads and stores, horizontal sums

#if GN_X86
#define GN_LOAD_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define GN_LOAD_Q8(p) _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p))))
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

// MARK: - One name per operation and ISA
// The kernels are written once, as macros taking an ISA prefix (GN512 or GN256), and expanded
// per ISA: ISA##_FMADD(a, b, c) is _mm512_fmadd_ps or _mm256_fmadd_ps, and so on.

#define GN512_TARGET "avx512f"
#define GN512_VEC __m512
#define GN512_LANES 16
#define GN512_SETZERO _mm512_setzero_ps
#define GN512_SET1 _mm512_set1_ps
#define GN512_FMADD _mm512_fmadd_ps
#define GN512_MUL _mm512_mul_ps
#define GN512_ADD _mm512_add_ps
#define GN512_STOREU _mm512_storeu_ps
#define GN512_LOAD_PART gn_load_part512
#define GN512_STORE_PART gn_store_part512

#define GN256_TARGET "avx2,fma,f16c"
#define GN256_VEC __m256
#define GN256_LANES 8
#define GN256_SETZERO _mm256_setzero_ps
#define GN256_SET1 _mm256_set1_ps
#define GN256_FMADD _mm256_fmadd_ps
#define GN256_MUL _mm256_mul_ps
#define GN256_ADD _mm256_add_ps
#define GN256_STOREU _mm256_storeu_ps
#define GN256_LOAD_PART gn_load_part256
#define GN256_STORE_PART gn_store_part256

// MARK: - The vector exponential (softmax, gelu)

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
#endif

#endif
