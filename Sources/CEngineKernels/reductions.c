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
