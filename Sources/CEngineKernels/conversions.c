#include "simd.h"

// MARK: - Conversions at load time: weights to float16 or int8, and checkpoints' float16 and
// bfloat16 to float32

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
