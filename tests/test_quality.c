/* core/eval/quality: per-token KLD / same top / NLL difference against naive double
 * computations, statistics against direct formulas, the paired comparison and verdicts.
 * Whole-model checks (fp against itself, naive forward, cache) are in test_quality_run.c. */
#include "test.h"

#include "base/rng.h"
#include "eval/quality.h"

#define V 300

static void random_logits(ls_rng *state, float *l, double scale)
{
    for (int v = 0; v < V; v++) {
        /* a peaked distribution: a few large logits over a noisy floor */
        double u = (double)(ls_rng_next(state) >> 11) / 9007199254740992.0;
        l[v] = (float)(scale * (u - 0.5) * 4.0 + (v % 37 == 0 ? 6.0 : 0.0));
    }
}

static void perturb(ls_rng *state, const float *l, float *out, double eps)
{
    for (int v = 0; v < V; v++) {
        double u = (double)(ls_rng_next(state) >> 11) / 9007199254740992.0;
        out[v] = l[v] + (float)(eps * (u - 0.5));
    }
}

/* KL(P||Q) in double straight from the definition. */
static double naive_kld(const float *lp, const float *lq)
{
    double mp = -INFINITY, mq = -INFINITY, sp = 0, sq = 0;
    for (int v = 0; v < V; v++)
        mp = fmax(mp, lp[v]), mq = fmax(mq, lq[v]);
    for (int v = 0; v < V; v++)
        sp += exp(lp[v] - mp), sq += exp(lq[v] - mq);
    double kl = 0;
    for (int v = 0; v < V; v++) {
        double a = lp[v] - mp - log(sp), b = lq[v] - mq - log(sq);
        kl += exp(a) * (a - b);
    }
    return kl;
}

static void test_self_is_zero(void)
{
    ls_rng st = {7};
    float l[V];
    for (int k = 0; k <= 16; k += 16) {
        ls_qref r;
        ls_tokq t;
        ls_error err;
        CHECK(ls_qref_init(&r, V, k, 50, &err) == 0);
        CHECK(ls_tokq_init(&t, 50, &err) == 0);
        for (int i = 0; i < 50; i++) {
            random_logits(&st, l, 1.0 + i * 0.1);
            ls_qref_set(&r, i, l, i % V);
            ls_quality_token(&r, i, l, i % V, &t, i);
            CHECK(t.kld[i] == 0.0);
            CHECK(t.top[i] == r.top[i]);
            CHECK(t.nll[i] == r.nll[i]);
        }
        ls_quality_stats s;
        ls_quality_stats_of(&r, &t, 50, true, &s);
        CHECK(s.kld_mean == 0.0 && s.kld_max == 0.0 && s.kld_p999 == 0.0);
        CHECK(s.same_top_pct == 100.0);
        CHECK(s.ln_ppl_ratio == 0.0);
        ls_qref_free(&r);
        ls_tokq_free(&t);
    }
}

static void test_kld_against_naive(void)
{
    ls_rng st = {11};
    float lp[V], lq[V];
    ls_qref full, coarse;
    ls_tokq tf, tc;
    ls_error err;
    int n = 200;
    CHECK(ls_qref_init(&full, V, 0, n, &err) == 0);
    CHECK(ls_qref_init(&coarse, V, 64, n, &err) == 0);
    CHECK(ls_tokq_init(&tf, n, &err) == 0);
    CHECK(ls_tokq_init(&tc, n, &err) == 0);
    double sum_full = 0, sum_coarse = 0;
    int neg = 0, over = 0;
    for (int i = 0; i < n; i++) {
        random_logits(&st, lp, 2.0);
        perturb(&st, lp, lq, i < 100 ? 0.3 : 3.0);
        ls_qref_set(&full, i, lp, 5);
        ls_qref_set(&coarse, i, lp, 5);
        ls_quality_token(&full, i, lq, 5, &tf, i);
        ls_quality_token(&coarse, i, lq, 5, &tc, i);
        CHECK_REL(tf.kld[i], naive_kld(lp, lq), 1e-9);
        neg += tf.kld[i] < 0 || tc.kld[i] < 0;
        over += tc.kld[i] > tf.kld[i] * (1 + 1e-12); /* coarsened is a lower bound */
        sum_full += tf.kld[i];
        sum_coarse += tc.kld[i];
        CHECK(tf.nll[i] == tc.nll[i]);
        CHECK(tf.top[i] == tc.top[i]);
    }
    CHECK(neg == 0);
    CHECK(over == 0);
    CHECK(sum_coarse <= sum_full);
    CHECK(sum_coarse > 0.3 * sum_full); /* the rest bucket keeps most of it */
    ls_qref_free(&full), ls_qref_free(&coarse), ls_tokq_free(&tf), ls_tokq_free(&tc);
}

static void test_stats_direct(void)
{
    int n = 101;
    ls_qref r;
    ls_tokq t;
    ls_error err;
    CHECK(ls_qref_init(&r, 4, 0, n, &err) == 0);
    CHECK(ls_tokq_init(&t, n, &err) == 0);
    for (int i = 0; i < n; i++) {
        t.kld[(i * 37) % n] = (double)i; /* 0..100, shuffled */
        r.top[i] = 1;
        t.top[i] = i % 4 == 0 ? 2 : 1;
        r.nll[i] = 1.0;
        t.nll[i] = 1.0 + 0.01 * (i % 7);
    }
    ls_quality_stats s;
    ls_quality_stats_of(&r, &t, n, true, &s);
    CHECK_NEAR(s.kld_mean, 50.0, 1e-12);
    /* direct: sample standard deviation over sqrt(n) */
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += (i - 50.0) * (i - 50.0);
    CHECK_REL(s.kld_se, sqrt(ss / (n - 1)) / sqrt((double)n), 1e-12);
    CHECK_NEAR(s.kld_p50, 50.0, 1e-12);
    CHECK_NEAR(s.kld_p90, 90.0, 1e-12);
    CHECK_NEAR(s.kld_p999, 99.9, 1e-9);
    CHECK(s.kld_max == 100.0);
    double p = 75.0 / 101.0; /* 26 of 101 differ */
    CHECK_REL(s.same_top_pct, 100.0 * p, 1e-12);
    CHECK_REL(s.same_top_se, 100.0 * sqrt(p * (1 - p) / 100.0), 1e-12);
    double md = 0, vd = 0;
    for (int i = 0; i < n; i++)
        md += 0.01 * (i % 7);
    md /= n;
    for (int i = 0; i < n; i++)
        vd += (0.01 * (i % 7) - md) * (0.01 * (i % 7) - md);
    CHECK_REL(s.ln_ppl_ratio, md, 1e-9);
    CHECK_REL(s.ln_ppl_ratio_se, sqrt(vd / (n - 1) / n), 1e-9);
    ls_qref_free(&r), ls_tokq_free(&t);
}

static void test_compare_and_verdict(void)
{
    int n = 400;
    ls_qref r;
    ls_tokq b, c;
    ls_error err;
    CHECK(ls_qref_init(&r, 4, 0, n, &err) == 0);
    CHECK(ls_tokq_init(&b, n, &err) == 0);
    CHECK(ls_tokq_init(&c, n, &err) == 0);
    ls_rng st = {3};
    for (int i = 0; i < n; i++) {
        double u = (double)(ls_rng_next(&st) >> 11) / 9007199254740992.0;
        r.top[i] = 0, r.nll[i] = 2.0;
        b.kld[i] = 0.1 + 0.1 * u, b.nll[i] = 2.1, b.top[i] = i % 5 == 0;
        c.kld[i] = b.kld[i] * 0.8 + 0.001 * (i % 3), c.nll[i] = 2.05, c.top[i] = i % 10 == 0;
    }
    ls_quality_diff d;
    ls_quality_compare(&r, &b, &c, n, &d);
    double md = 0, mb = 0, mc = 0;
    for (int i = 0; i < n; i++)
        md += c.kld[i] - b.kld[i], mb += b.kld[i], mc += c.kld[i];
    md /= n, mb /= n, mc /= n;
    double vd = 0;
    for (int i = 0; i < n; i++)
        vd += (c.kld[i] - b.kld[i] - md) * (c.kld[i] - b.kld[i] - md);
    CHECK_REL(d.kld, md, 1e-9);
    CHECK_REL(d.kld_se, sqrt(vd / (n - 1)) / sqrt((double)n), 1e-9);
    CHECK_REL(d.kld_rel, mc / mb - 1.0, 1e-9);
    /* delta method, computed directly: var(R) = (var c - 2 R cov + R^2 var b) / (n-1) / mb^2 */
    double vb = 0, vc = 0, cv = 0, R = mc / mb;
    for (int i = 0; i < n; i++) {
        vb += (b.kld[i] - mb) * (b.kld[i] - mb);
        vc += (c.kld[i] - mc) * (c.kld[i] - mc);
        cv += (b.kld[i] - mb) * (c.kld[i] - mc);
    }
    vb /= n, vc /= n, cv /= n;
    CHECK_REL(d.kld_rel_se, sqrt((vc - 2 * R * cv + R * R * vb) / (n - 1)) / mb, 1e-9);
    CHECK_NEAR(d.same_top_pct, 10.0, 1e-9); /* 20 % wrong -> 10 % wrong */
    CHECK_NEAR(d.ln_ppl_ratio, -0.05, 1e-9);
    CHECK(d.kld_distinguishable && !d.identical);
    CHECK(d.kld_distinguishable == (fabs(d.kld_rel) > LS_Z95 * d.kld_rel_se));
    char buf[200];
    ls_quality_verdict(&d, 1.01, buf, sizeof buf);
    CHECK(strstr(buf, "+1.01 % memory: KLD -") == buf);
    CHECK(strstr(buf, "against base") != NULL);
    /* the same model twice: identical */
    ls_quality_compare(&r, &b, &b, n, &d);
    CHECK(d.identical && !d.kld_distinguishable && d.kld == 0.0);
    ls_quality_verdict(&d, NAN, buf, sizeof buf);
    CHECK_STR(buf, "identical to base on 400 tokens");
    /* noise around the same mean: not distinguishable */
    for (int i = 0; i < n; i++)
        c.kld[i] = b.kld[i] + (i % 2 ? 0.01 : -0.01);
    ls_quality_compare(&r, &b, &c, n, &d);
    CHECK(!d.kld_distinguishable);
    ls_quality_verdict(&d, 0.5, buf, sizeof buf);
    CHECK(strstr(buf, "not distinguishable from base with 400 tokens") != NULL);
    ls_qref_free(&r), ls_tokq_free(&b), ls_tokq_free(&c);
}

int main(void)
{
    RUN(test_self_is_zero);
    RUN(test_kld_against_naive);
    RUN(test_stats_direct);
    RUN(test_compare_and_verdict);
    return t_summary();
}
