#include "simd.h"

// MARK: - CPU feature dispatch

#if GN_X86
int gn_has_avx2_fma(void) {
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
int gn_has_avx512(void) {
  static int cached = -1;
  if (cached < 0) {
    __builtin_cpu_init();
    const char *choice = getenv("TUTOR_KERNELS");
    cached = __builtin_cpu_supports("avx512f") && !(choice && strcmp(choice, "avx2") == 0);
  }
  return cached;
}
int gn_has_f16c(void) {
  static int cached = -1;
  if (cached < 0) {
    __builtin_cpu_init();
    cached = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
  }
  return cached;
}
#endif
