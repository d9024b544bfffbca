#ifndef TAGGAN_BLAS_LOADER_H
#define TAGGAN_BLAS_LOADER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// CBLAS constants (identical across OpenBLAS, BLIS and the reference CBLAS).
enum { TAGGAN_CBLAS_ROW_MAJOR = 101, TAGGAN_CBLAS_NO_TRANS = 111, TAGGAN_CBLAS_TRANS = 112 };

/// Opens `path` with dlopen and resolves cblas_sgemm (required) plus the optional
/// OpenBLAS/BLIS introspection calls. Returns 1 on success; on failure returns 0 and
/// writes the reason into `error` (at most `error_size` bytes, NUL-terminated).
int taggan_blas_open(const char *path, char *error, size_t error_size);

/// 1 once a library has been opened successfully.
int taggan_blas_is_open(void);

void taggan_sgemm(int transpose_a, int transpose_b, int m, int n, int k,
                  float alpha, const float *a, int lda, const float *b, int ldb,
                  float beta, float *c, int ldc);

void taggan_sgemv(int transpose_a, int m, int n, float alpha, const float *a, int lda,
                  const float *x, int incx, float beta, float *y, int incy);

/// OpenBLAS's build configuration string, or NULL for other libraries.
const char *taggan_blas_config(void);
/// OpenBLAS's kernel ("SkylakeX", "Haswell", "Prescott"...), or NULL.
const char *taggan_blas_corename(void);
/// Threads the library will use, or -1 when it cannot say.
int taggan_blas_threads(void);
/// Sets the library's thread count where it has a call for it; returns 1 if it did.
int taggan_blas_set_threads(int threads);

/// The OpenBLAS core type this CPU supports best, judged from CPUID and the OS's saved
/// register state (XGETBV): "SkylakeX" for AVX-512 F/CD/BW/DQ/VL, "Haswell" for
/// AVX2 + FMA, NULL when nothing better than OpenBLAS's own detection is known.
const char *taggan_cpu_openblas_coretype(void);

/// The CPU features the conv net's kernel variant `level` (1: AVX2, 2: AVX-512) needs
/// and this CPU (or its OS) lacks, comma-separated; "" when it can run that variant.
const char *taggan_cpu_kernel_missing(int level);

/// A short description of the CPU's vector extensions, e.g. "avx512 avx2 fma".
const char *taggan_cpu_vector_features(void);

/// Sets (on != 0) or clears flush-to-zero and denormals-are-zero in the calling thread's
/// floating-point control register (x86-64 MXCSR bits 15 and 6; AArch64 FPCR.FZ). Threads
/// created afterwards inherit the setting (pthread_create copies the floating-point
/// environment). Returns 1 where the CPU has such a switch, 0 where it does not.
int taggan_set_flush_denormals(int on);

/// 1 when the calling thread flushes denormal floats to zero (both FTZ and DAZ on x86-64).
int taggan_flush_denormals_enabled(void);

#ifdef __cplusplus
}
#endif

#endif
