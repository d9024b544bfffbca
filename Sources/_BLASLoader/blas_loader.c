#define _GNU_SOURCE
#include "blas_loader.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int,
                         const float *, int, float, float *, int);
typedef void (*sgemv_fn)(int, int, int, int, float, const float *, int, const float *, int,
                         float, float *, int);
typedef char *(*string_fn)(void);
typedef int (*int_fn)(void);
typedef void (*set_threads_fn)(int);

static void *library;
static sgemm_fn sgemm;
static sgemv_fn sgemv;
static string_fn get_config;
static string_fn get_corename;
static int_fn get_threads;
static set_threads_fn set_threads;
static int_fn blis_get_threads;       /* bli_thread_get_num_threads */
static set_threads_fn blis_set_threads; /* bli_thread_set_num_threads */

int taggan_blas_open(const char *path, char *error, size_t error_size) {
    if (library) return 1;
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(error, error_size, "%s", dlerror());
        return 0;
    }
    sgemm_fn gemm = (sgemm_fn)dlsym(handle, "cblas_sgemm");
    sgemv_fn gemv = (sgemv_fn)dlsym(handle, "cblas_sgemv");
    if (!gemm || !gemv) {
        snprintf(error, error_size, "%s has no cblas_sgemm/cblas_sgemv", path);
        dlclose(handle);
        return 0;
    }
    library = handle;
    sgemm = gemm;
    sgemv = gemv;
    get_config = (string_fn)dlsym(handle, "openblas_get_config");
    get_corename = (string_fn)dlsym(handle, "openblas_get_corename");
    get_threads = (int_fn)dlsym(handle, "openblas_get_num_threads");
    set_threads = (set_threads_fn)dlsym(handle, "openblas_set_num_threads");
    blis_get_threads = (int_fn)dlsym(handle, "bli_thread_get_num_threads");
    blis_set_threads = (set_threads_fn)dlsym(handle, "bli_thread_set_num_threads");
    return 1;
}

int taggan_blas_is_open(void) { return library != NULL; }

void taggan_sgemm(int transpose_a, int transpose_b, int m, int n, int k,
                  float alpha, const float *a, int lda, const float *b, int ldb,
                  float beta, float *c, int ldc) {
    sgemm(TAGGAN_CBLAS_ROW_MAJOR,
          transpose_a ? TAGGAN_CBLAS_TRANS : TAGGAN_CBLAS_NO_TRANS,
          transpose_b ? TAGGAN_CBLAS_TRANS : TAGGAN_CBLAS_NO_TRANS,
          m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void taggan_sgemv(int transpose_a, int m, int n, float alpha, const float *a, int lda,
                  const float *x, int incx, float beta, float *y, int incy) {
    sgemv(TAGGAN_CBLAS_ROW_MAJOR, transpose_a ? TAGGAN_CBLAS_TRANS : TAGGAN_CBLAS_NO_TRANS,
          m, n, alpha, a, lda, x, incx, beta, y, incy);
}

const char *taggan_blas_config(void) { return get_config ? get_config() : NULL; }
const char *taggan_blas_corename(void) { return get_corename ? get_corename() : NULL; }

int taggan_blas_threads(void) {
    if (get_threads) return get_threads();
    if (blis_get_threads) return blis_get_threads();
    return -1;
}

int taggan_blas_set_threads(int threads) {
    if (set_threads) { set_threads(threads); return 1; }
    if (blis_set_threads) { blis_set_threads(threads); return 1; }
    return 0;
}

#if defined(__x86_64__) || defined(__i386__)
static unsigned long long read_xcr0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

typedef struct { int avx, fma, avx2, avx512; } vector_features;

static vector_features detect(void) {
    vector_features f = {0, 0, 0, 0};
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    int osxsave = (c >> 27) & 1;
    int has_avx = (c >> 28) & 1;
    f.fma = (c >> 12) & 1;
    if (!osxsave || !has_avx) return f;
    unsigned long long xcr0 = read_xcr0();
    if ((xcr0 & 0x6) != 0x6) return f;          /* XMM and YMM state saved by the OS */
    f.avx = 1;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
    f.avx2 = (b >> 5) & 1;
    int avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1, avx512cd = (b >> 28) & 1;
    int avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
    int zmm_state = (xcr0 & 0xE0) == 0xE0;       /* opmask, ZMM_Hi256, Hi16_ZMM */
    f.avx512 = zmm_state && avx512f && avx512dq && avx512cd && avx512bw && avx512vl;
    return f;
}

/* What the conv net's kernel variants were compiled for (Package.swift): the AVX2 one
 * for LLVM's `haswell`, the AVX-512 one for `skylake-avx512`. Beside the vector
 * extensions, the compiler may emit the scalar instructions those CPUs have (BMI1/2,
 * LZCNT, MOVBE, F16C conversions, POPCNT), so each is checked too. */
const char *taggan_cpu_kernel_missing(int level) {
    static char text[160];
    text[0] = 0;
    vector_features f = detect();
    unsigned int a, b, c, d, c1 = 0, b7 = 0, ext_c = 0;
    if (__get_cpuid(1, &a, &b, &c, &d)) c1 = c;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) b7 = b;
    if (__get_cpuid(0x80000001, &a, &b, &c, &d)) ext_c = c;
    struct { const char *name; int present; } need[] = {
        {"avx (with OS support)", f.avx}, {"avx2", f.avx2}, {"fma", f.fma},
        {"bmi1", (b7 >> 3) & 1}, {"bmi2", (b7 >> 8) & 1}, {"lzcnt", (ext_c >> 5) & 1},
        {"movbe", (c1 >> 22) & 1}, {"f16c", (c1 >> 29) & 1}, {"popcnt", (c1 >> 23) & 1},
        {"avx512f/cd/bw/dq/vl (with OS support)", f.avx512},
    };
    int count = level >= 2 ? 10 : 9;
    for (int i = 0; i < count; i++) {
        if (need[i].present) continue;
        if (text[0]) strncat(text, ", ", sizeof text - strlen(text) - 1);
        strncat(text, need[i].name, sizeof text - strlen(text) - 1);
    }
    return text;
}

const char *taggan_cpu_openblas_coretype(void) {
    vector_features f = detect();
    if (f.avx512) return "SkylakeX";
    if (f.avx2 && f.fma) return "Haswell";
    return NULL;
}

const char *taggan_cpu_vector_features(void) {
    static char text[64];
    vector_features f = detect();
    snprintf(text, sizeof text, "%s%s%s%s", f.avx512 ? "avx512 " : "", f.avx2 ? "avx2 " : "",
             f.fma ? "fma " : "", f.avx ? "avx" : "sse");
    return text;
}
#else
const char *taggan_cpu_openblas_coretype(void) { return NULL; }
const char *taggan_cpu_kernel_missing(int level) { return level >= 1 ? "x86-64 vector extensions" : ""; }
const char *taggan_cpu_vector_features(void) { return "unknown"; }
#endif

/* Denormal floats (|x| < 2^-126) take a microcode assist on x86 when an SSE/AVX operation
   reads or produces one: tens to a hundred cycles instead of one. FTZ writes such results
   as zero, DAZ reads such inputs as zero. */
#if defined(__x86_64__)
#include <xmmintrin.h>
enum { MXCSR_FTZ = 1u << 15, MXCSR_DAZ = 1u << 6 };

int taggan_set_flush_denormals(int on) {
    unsigned int csr = _mm_getcsr();
    _mm_setcsr(on ? (csr | MXCSR_FTZ | MXCSR_DAZ) : (csr & ~(unsigned int)(MXCSR_FTZ | MXCSR_DAZ)));
    return 1;
}

int taggan_flush_denormals_enabled(void) {
    return (_mm_getcsr() & (MXCSR_FTZ | MXCSR_DAZ)) == (MXCSR_FTZ | MXCSR_DAZ);
}
#elif defined(__aarch64__)
int taggan_set_flush_denormals(int on) {
    unsigned long fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    fpcr = on ? (fpcr | (1ul << 24)) : (fpcr & ~(1ul << 24));
    __asm__ volatile("msr fpcr, %0" : : "r"(fpcr));
    return 1;
}

int taggan_flush_denormals_enabled(void) {
    unsigned long fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    return (fpcr >> 24) & 1;
}
#else
int taggan_set_flush_denormals(int on) { (void)on; return 0; }
int taggan_flush_denormals_enabled(void) { return 0; }
#endif
