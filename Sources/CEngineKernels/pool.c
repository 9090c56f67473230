// A fork-join pool for the engine's parallel loops: a forward pass runs ~90 short parallel loops
// per token, and waking sleeping threads for each (what DispatchQueue.concurrentPerform does)
// cost ~10% of batch-1 decode. Here the workers spin for a short while after each loop, so the
// next one starts in well under a microsecond, and sleep on a condition variable once idle.
#include "engine_kernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define GN_PAUSE() _mm_pause()
#else
#define GN_PAUSE() ((void)0)
#endif

// How long an idle worker spins before it sleeps.
#define GN_SPIN_NS 200000

struct gn_pool {
  int workers;
  pthread_t *threads;
  // The loop being run. `ticket` is (generation << 32) | next index: a worker claims an index by
  // a compare-and-swap on it, which fails if the loop it read the fields of has been replaced.
  _Atomic(gn_task_fn) fn;
  _Atomic(void *) ctx;
  _Atomic size_t count;
  _Atomic uint64_t ticket;
  _Atomic size_t completed;
  atomic_flag busy;
  atomic_int sleepers;
  atomic_int stop;
  pthread_mutex_t mutex;
  pthread_cond_t wake;
};

static uint64_t gn_now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

// Runs items of the loop of generation `gen` until none is left or that loop has been replaced.
static void gn_pool_work(gn_pool *pool, uint32_t gen) {
  for (;;) {
    uint64_t ticket = atomic_load(&pool->ticket);
    if ((uint32_t)(ticket >> 32) != gen) return;
    gn_task_fn fn = atomic_load(&pool->fn);
    void *ctx = atomic_load(&pool->ctx);
    size_t count = atomic_load(&pool->count);
    size_t index = (size_t)(uint32_t)ticket;
    if (index >= count) return;
    if (!atomic_compare_exchange_weak(&pool->ticket, &ticket, ticket + 1)) continue;
    fn(ctx, index);
    atomic_fetch_add(&pool->completed, 1);
  }
}

static void *gn_pool_main(void *arg) {
  gn_pool *pool = arg;
  uint32_t seen = 0;
  for (;;) {
    uint64_t start = gn_now_ns();
    unsigned spins = 0;
    uint32_t gen;
    while ((gen = (uint32_t)(atomic_load(&pool->ticket) >> 32)) == seen && !atomic_load(&pool->stop)) {
      GN_PAUSE();
      if (++spins % 256 == 0 && gn_now_ns() - start > GN_SPIN_NS) {
        pthread_mutex_lock(&pool->mutex);
        atomic_fetch_add(&pool->sleepers, 1);
        while ((uint32_t)(atomic_load(&pool->ticket) >> 32) == seen && !atomic_load(&pool->stop))
          pthread_cond_wait(&pool->wake, &pool->mutex);
        atomic_fetch_sub(&pool->sleepers, 1);
        pthread_mutex_unlock(&pool->mutex);
      }
    }
    if (atomic_load(&pool->stop)) return NULL;
    seen = gen;
    gn_pool_work(pool, gen);
  }
}

gn_pool *gn_pool_create(int threads) {
  gn_pool *pool = calloc(1, sizeof *pool);
  if (!pool) return NULL;
  atomic_flag_clear(&pool->busy);
  pthread_mutex_init(&pool->mutex, NULL);
  pthread_cond_init(&pool->wake, NULL);
  int workers = threads > 1 ? threads - 1 : 0;
  pool->threads = calloc(workers > 0 ? (size_t)workers : 1, sizeof(pthread_t));
  for (int i = 0; i < workers && pool->threads; i++) {
    if (pthread_create(&pool->threads[i], NULL, gn_pool_main, pool) != 0) break;
    pool->workers++;
  }
  return pool;
}

void gn_pool_destroy(gn_pool *pool) {
  if (!pool) return;
  pthread_mutex_lock(&pool->mutex);
  atomic_store(&pool->stop, 1);
  pthread_cond_broadcast(&pool->wake);
  pthread_mutex_unlock(&pool->mutex);
  for (int i = 0; i < pool->workers; i++) pthread_join(pool->threads[i], NULL);
  pthread_mutex_destroy(&pool->mutex);
  pthread_cond_destroy(&pool->wake);
  free(pool->threads);
  free(pool);
}

int gn_pool_run(gn_pool *pool, size_t count, gn_task_fn fn, void *ctx) {
  if (!pool || count == 0 || atomic_flag_test_and_set(&pool->busy)) return 0;
  // Close the previous loop's ticket before touching the fields: a worker that read the old ticket
  // and then this loop's fn, ctx and count must fail its compare-and-swap. (Writing the fields
  // first let such a worker claim a stale index against the new count, run it with the new loop's
  // closure and count it in `completed` after the reset below, so the caller returned while an
  // item was still running; Swift then trapped with "non-escaping closure has escaped", twice in
  // 25 load tests of 45 s.) The closed generation has no index to claim.
  uint32_t closed = (uint32_t)(atomic_load(&pool->ticket) >> 32) + 1;
  atomic_store(&pool->ticket, ((uint64_t)closed << 32) | UINT32_MAX);
  atomic_store(&pool->fn, fn);
  atomic_store(&pool->ctx, ctx);
  atomic_store(&pool->count, count);
  atomic_store(&pool->completed, 0);
  uint32_t gen = closed + 1;
  atomic_store(&pool->ticket, (uint64_t)gen << 32);
  if (atomic_load(&pool->sleepers) > 0) {
    pthread_mutex_lock(&pool->mutex);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mutex);
  }
  gn_pool_work(pool, gen);
  while (atomic_load(&pool->completed) < count) GN_PAUSE();
  atomic_flag_clear(&pool->busy);
  return 1;
}
