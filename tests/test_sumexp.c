/* core/eval/sumexp: the log-softmax sums against long double libm, at every length
 * around the vector width, with the edges (underflow, -inf, NaN, overflow); the maximum
 * against the plain loop, NaNs included. */
#include "test.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "eval/sumexp.h"

static uint64_t rng = 0x243f6a8885a308d3ull;
static double urand(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static long double ref_sum(const float *x, int64_t n, double shift)
{
    long double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += expl((long double)x[i] - (long double)shift);
    return s;
}

static void test_sum_against_long_double(void)
{
    float *x = malloc(32000 * sizeof *x);
    double worst = 0;
    const int64_t lens[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 100, 32000};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
        for (int trial = 0; trial < 20; trial++) {
            int64_t n = lens[li];
            double spread = trial < 10 ? 10.0 : 700.0; /* logits, and extreme ones */
            for (int64_t i = 0; i < n; i++)
                x[i] = (float)((urand() - 0.5) * spread);
            float mx = ls_max_float(x, n);
            double s = ls_sum_exp(x, n, (double)mx);
            long double r = ref_sum(x, n, (double)mx);
            double rel = (double)fabsl(((long double)s - r) / r);
            worst = rel > worst ? rel : worst;
        }
    printf("  worst relative error of the sum: %.2e\n", worst);
    CHECK(worst < 1e-14);
    free(x);
}

static void test_edges(void)
{
    float x[20];
    for (int i = 0; i < 20; i++)
        x[i] = 0.0f;
    x[3] = -INFINITY;
    x[17] = -800.0f; /* exp underflows to 0 */
    CHECK(ls_sum_exp(x, 20, 0.0) == 18.0);
    x[5] = -740.0f; /* a subnormal, as libm gives it */
    CHECK(ls_sum_exp(x + 5, 1, 0.0) == exp(-740.0));
    CHECK(ls_sum_exp(x + 5, 1, 0.0) > 0.0);
    x[5] = 0.0f;
    x[18] = 800.0f;
    CHECK(isinf(ls_sum_exp(x, 20, 0.0)));
    x[18] = 0.0f;
    x[19] = NAN;
    CHECK(isnan(ls_sum_exp(x, 20, 0.0)));
    x[19] = 0.0f;
    x[9] = NAN; /* in the vector part */
    CHECK(isnan(ls_sum_exp(x, 20, 0.0)));
    /* exact at integers' worth of ln 2 steps: e^0 */
    float one[1] = {2.5f};
    CHECK(ls_sum_exp(one, 1, 2.5) == 1.0);
}

static float plain_max(const float *x, int64_t n)
{
    float m = x[0];
    for (int64_t i = 1; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}

static void test_max(void)
{
    float x[50];
    for (int trial = 0; trial < 200; trial++) {
        int64_t n = 1 + trial % 50;
        for (int64_t i = 0; i < n; i++)
            x[i] = (float)(urand() * 20 - 10);
        if (trial % 3 == 1)
            x[(int64_t)(urand() * (double)n)] = NAN;
        float a = ls_max_float(x, n), b = plain_max(x, n);
        CHECK((isnan(a) && isnan(b)) || a == b);
    }
    x[0] = NAN, x[1] = 3.0f;
    CHECK(isnan(ls_max_float(x, 20)));
}

int main(void)
{
    RUN(test_sum_against_long_double);
    RUN(test_edges);
    RUN(test_max);
    return t_summary();
}
