#include "base/half_convert.h"

#include <stdatomic.h>
#include <string.h>

#include "base/half.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

static void scalar(const unsigned char *src, int64_t n, bool bf16, float *out)
{
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * i, 2);
        out[i] = bf16 ? ls_bf16_to_f32(h) : ls_f16_to_f32(h);
    }
}

#ifdef HAVE_X86
/* bfloat16 is the top half of a float: interleave zeros below each value (SSE2). */
static int64_t bf16_sse2(const unsigned char *src, int64_t n, float *out)
{
    const __m128i zero = _mm_setzero_si128();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(src + 2 * i));
        _mm_storeu_si128((__m128i *)(void *)(out + i), _mm_unpacklo_epi16(zero, h));
        _mm_storeu_si128((__m128i *)(void *)(out + i + 4), _mm_unpackhi_epi16(zero, h));
    }
    return i;
}

/* vcvtph2ps converts exactly, subnormals included (a signalling NaN comes out quiet). */
__attribute__((target("avx,f16c"))) static int64_t f16_f16c(const unsigned char *src,
                                                             int64_t n, float *out)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(src + 2 * i));
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
    }
    return i;
}

/* CPUID leaf 1, ECX: bit 27 OSXSAVE, 28 AVX, 29 F16C; plus XGETBV: the OS saves the YMM
 * state. Asked directly, since clang 14 rejects __builtin_cpu_supports("f16c"). */
static bool have_f16c(void)
{
    static _Atomic int cached = -1; /* cpuid traps to the hypervisor in a VM: ask once */
    int known = atomic_load_explicit(&cached, memory_order_relaxed);
    if (known >= 0)
        return known;
    unsigned a = 1, b, c = 0, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    const unsigned need = (1u << 27) | (1u << 28) | (1u << 29);
    bool ok = (c & need) == need;
    if (ok) {
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        ok = (lo & 6u) == 6u; /* XMM and YMM state enabled */
    }
    atomic_store_explicit(&cached, ok, memory_order_relaxed);
    return ok;
}
#endif

void ls_half_to_f32(const void *src, int64_t n, bool bf16, float *out)
{
    const unsigned char *s = src;
    int64_t done = 0;
#ifdef HAVE_X86
    if (bf16)
        done = bf16_sse2(s, n, out);
    else if (have_f16c())
        done = f16_f16c(s, n, out);
#endif
    scalar(s + 2 * done, n - done, bf16, out + done);
}
