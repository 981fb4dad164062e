#include "base/half_convert.h"

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

static bool have_f16c(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
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
