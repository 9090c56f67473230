// Numeric kernels of the inference engine (GPT-Neo and BERT): the hot loops, in C so that they are vectorised and
// optimised in every build configuration, and the fork-join pool that runs them on several cores.
// The Swift module `Engine` owns all memory; these functions only read and write the buffers they
// are given.
#ifndef ENGINE_KERNELS_H
#define ENGINE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Weight matrices are multiplied in a packed layout: a row-major [n, k] matrix (PyTorch Linear
/// layout, row j = output column j) as panels of 16 rows, panel p holding rows 16p ..< 16p + 16 as
/// k lines of 16 values, the last panel padded with zeros. This is its element count.
size_t gn_packed_count(size_t n, size_t k);

/// Packs panels [panel_begin, panel_end) of `w` into `packed` (gn_packed_count elements).
void gn_pack_f32(const float *w, size_t n, size_t k, float *packed, size_t panel_begin, size_t panel_end);
void gn_pack_f16(const uint16_t *w, size_t n, size_t k, uint16_t *packed, size_t panel_begin, size_t panel_end);
void gn_pack_q8(const int8_t *w, size_t n, size_t k, int8_t *packed, size_t panel_begin, size_t panel_end);

/// Row `row` of a packed [n, k] matrix into dst[0 ..< k] (the embedding lookup).
void gn_packed_row_f32(const float *packed, size_t k, size_t row, float *dst);
void gn_packed_row_f16(const uint16_t *packed, size_t k, size_t row, uint16_t *dst);
void gn_packed_row_q8(const int8_t *packed, size_t k, size_t row, int8_t *dst);

/// y[i, j] = (sum_k x[i, k] * w[j, k]) * scale[j] + bias[j]   for rows i in [0, m) and columns j in
/// [n_begin, n_end), with `wp` the packed [n, k] matrix. n_begin must be a multiple of 16, and n_end
/// a multiple of 16 or n. Each sum is one FMA chain over k in order: the same bits for any m, any
/// tile and any CPU, and float16 weights give what their float32 values give (converted in the
/// kernel; F16C). int8 weights are quantised per output row, w[j, k] ≈ q[j, k] * scale[j]; `scale`
/// is NULL for the others. `x` is [m, k], `y` is [m, ldy]; `bias` may be NULL.
void gn_linear_packed_f32(const float *x, size_t m, size_t k, const float *wp, const float *scale,
                          const float *bias, float *y, size_t ldy, size_t n_begin, size_t n_end);
void gn_linear_packed_f16(const float *x, size_t m, size_t k, const uint16_t *wp, const float *scale,
                          const float *bias, float *y, size_t ldy, size_t n_begin, size_t n_end);
void gn_linear_packed_q8(const float *x, size_t m, size_t k, const int8_t *wp, const float *scale,
                         const float *bias, float *y, size_t ldy, size_t n_begin, size_t n_end);

/// float32 → float16 (round to nearest even, as torch's .half()).
void gn_f32_to_f16(const float *src, uint16_t *dst, size_t n);

/// Symmetric per-row int8 quantisation of a row-major [rows, k] matrix: scale[j] = max|w[j]| / 127,
/// q = round(w / scale) (0 scale for an all-zero row).
void gn_quantize_q8(const float *w, size_t rows, size_t k, int8_t *q, float *scale);

/// Row-wise layer normalisation (biased variance, as torch.nn.LayerNorm).
void gn_layer_norm(const float *x, size_t rows, size_t dim, const float *gamma, const float *beta,
                   float eps, float *y);

/// Activations applied in place. `gelu_new` is the tanh approximation used by GPT-Neo.
void gn_gelu_new(float *x, size_t n);
void gn_gelu_erf(float *x, size_t n);
void gn_gelu_fast(float *x, size_t n);
void gn_relu(float *x, size_t n);
void gn_silu(float *x, size_t n);

/// y += x
void gn_add(float *y, const float *x, size_t n);

/// How a KV cache holds its keys and values: float32 (exact), float16 (IEEE half, round to nearest
/// even) or int8 with one float16 scale per (row, head): x ≈ q * scale, scale = max|x| / 127.
enum { GN_KV_F32 = 0, GN_KV_F16 = 1, GN_KV_Q8 = 2 };

/// One head's keys and values in a KV cache. Row r holds a position's keys at k + r * stride (the
/// head's first element; elements of the cache's format) and, for int8, its scale at
/// k_scale[r * scale_stride]. Position j is row j % ring, or row j when ring is 0.
typedef struct {
  const void *k;
  const void *v;
  const uint16_t *k_scale;
  const uint16_t *v_scale;
  size_t stride;
  size_t scale_stride;
  size_t ring;
  int format;
} gn_kv_view;

/// Causal attention of one head for `t_new` query rows whose absolute positions are past .. past+t_new-1,
/// over the keys and values of positions 0 .. past+t_new-1 in `kv` (those a window needs, at least).
/// With `window` > 0, query position p sees keys j with p - window < j <= p (GPT-Neo local
/// attention); 0 means global. Scores are NOT scaled by 1/sqrt(d): GPT-Neo does not scale them
/// (modeling_gpt_neo.py). `scratch` holds past + t_new floats. With a float32 cache the result does
/// not depend on `ring`: positions are summed in the same order wherever their rows are.
void gn_attention_head(const float *q, size_t q_stride, size_t t_new, size_t past, const gn_kv_view *kv,
                       size_t head_dim, size_t window, float *out, size_t out_stride, float *scratch);

/// Writes `rows` rows of `dim` floats (row i at src + i * dim, all heads) into a cache of `format`
/// as positions first .. first+rows-1 (row (first + i) % ring, or first + i when ring is 0);
/// `scales` ([rows of the cache, heads]) is used by int8 only.
void gn_kv_store(const float *src, size_t rows, size_t first, size_t ring, size_t dim, size_t heads, int format,
                 void *dst, uint16_t *scales);

/// Weight conversions at load time.
void gn_f16_to_f32(const uint16_t *src, float *dst, size_t n);
void gn_bf16_to_f32(const uint16_t *src, float *dst, size_t n);

/// A 64-bit fingerprint of n bytes (not cryptographic: four multiply-xor lanes over 8-byte words,
/// then the tail), for cache keys such as "which model made these embeddings".
uint64_t gn_fingerprint64(const void *data, size_t n, uint64_t seed);

// Returns memory that malloc keeps after frees to the system (glibc's malloc_trim; elsewhere a
// no-op), after the loader drops a large packed copy of the weights.
void gn_release_free_memory(void);

/// log-sum-exp of a row, and the index of its maximum (first one on ties, as torch.argmax).
double gn_logsumexp(const float *x, size_t n);
size_t gn_argmax(const float *x, size_t n);

/// The k-th largest value of x (1-based k <= n); `scratch` holds n floats.
float gn_kth_largest(const float *x, size_t n, size_t k, float *scratch);

/// Indices of x sorted by descending value (ties by ascending index) into `order`.
void gn_argsort_descending(const float *x, size_t n, uint32_t *order);

/// A draw from softmax(x): the first index where the running sum of e^(x_i - max) passes u times
/// their total (u in [0, 1)); -inf entries are never drawn. Returns n when every entry is -inf.
size_t gn_draw_softmax(const float *x, size_t n, double u);

/// A fork-join pool of `threads - 1` worker threads plus the caller (see pool.c).
typedef struct gn_pool gn_pool;
typedef void (*gn_task_fn)(void *ctx, size_t index);
gn_pool *gn_pool_create(int threads);
/// Stops and joins the workers; no loop may be running.
void gn_pool_destroy(gn_pool *pool);
/// Runs fn(ctx, i) for i in [0, count) on the caller and the workers; returns when all are done.
/// Returns 0 without running anything if the pool is running another loop (the caller then runs
/// the loop some other way), 1 otherwise.
int gn_pool_run(gn_pool *pool, size_t count, gn_task_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
