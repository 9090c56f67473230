#include "simd.h"

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

// MARK: - Drawing a token

// e^(x - m) for the 8 logits from i (fewer at the end: the rest are 0), 0 where x is -inf. The
// draw's two passes call this same function, so both see the same numbers.
#if GN_X86
__attribute__((target("avx2,fma"))) static void draw_block_avx2(const float *x, size_t i, size_t n, float m,
                                                                float e[8]) {
  size_t valid = n - i < 8 ? n - i : 8;
  __m256 v = valid == 8 ? _mm256_loadu_ps(x + i) : gn_load_part256(x + i, valid);
  __m256 live = _mm256_cmp_ps(v, _mm256_set1_ps(-INFINITY), _CMP_GT_OQ);
  if (valid < 8) {
    __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 inside = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)valid), lane));
    live = _mm256_and_ps(live, inside);
  }
  _mm256_storeu_ps(e, _mm256_and_ps(exp256(_mm256_sub_ps(v, _mm256_set1_ps(m))), live));
}
#endif

static void draw_block(const float *x, size_t i, size_t n, float m, float e[8], int vector) {
#if GN_X86
  if (vector) {
    draw_block_avx2(x, i, n, m, e);
    return;
  }
#endif
  (void)vector;
  for (size_t k = 0; k < 8; k++) e[k] = i + k < n && x[i + k] > -INFINITY ? expf(x[i + k] - m) : 0.0f;
}

size_t gn_draw_softmax(const float *x, size_t n, double u) {
  float m = -INFINITY;
  for (size_t i = 0; i < n; i++)
    if (x[i] > m) m = x[i];
  if (m == -INFINITY) return n;
  int vector = 0;
#if GN_X86
  vector = gn_has_avx2_fma();
#endif
  // The total, block by block (8 exponentials summed in float, in lane order, then in double).
  float e[8];
  double total = 0;
  for (size_t i = 0; i < n; i += 8) {
    draw_block(x, i, n, m, e, vector);
    float s = 0;
    for (int k = 0; k < 8; k++) s += e[k];
    total += s;
  }
  // The token where the running sum passes u·total: whole blocks first, then within the block.
  double target = u * total, cumulative = 0;
  for (size_t i = 0; i < n; i += 8) {
    draw_block(x, i, n, m, e, vector);
    float s = 0;
    for (int k = 0; k < 8; k++) s += e[k];
    if (s > 0 && cumulative + s > target) {
      double within = cumulative;
      size_t last = i;
      for (size_t k = 0; k < 8 && i + k < n; k++) {
        if (e[k] <= 0) continue;
        within += e[k];
        last = i + k;
        if (target < within) return last;
      }
      return last;  // rounding left the target at the block's end
    }
    cumulative += s;
  }
  // Rounding left the target above the total: the last token that can be drawn.
  size_t last = n;
  while (last-- > 0)
    if (x[last] > -INFINITY) return last;
  return n;
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

#if defined(__GLIBC__)
#include <malloc.h>
void gn_release_free_memory(void) { malloc_trim(0); }
#else
void gn_release_free_memory(void) {}
#endif
