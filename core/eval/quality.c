#include "eval/quality.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/sumexp.h"

int64_t ls_qref_bytes(int vocab, int k, int64_t n)
{
    int64_t per = 2 * 8 + 4; /* lse, nll, top */
    if (k == 0)
        per += (int64_t)vocab * 4;
    else
        per += (int64_t)k * 8 + 8; /* logits + ids, rest */
    return per * n;
}

void ls_qref_free(ls_qref *r)
{
    free(r->lse), free(r->nll), free(r->top), free(r->logits), free(r->ids), free(r->rest);
    memset(r, 0, sizeof *r);
}

int ls_qref_init(ls_qref *r, int vocab, int k, int64_t n, ls_error *err)
{
    memset(r, 0, sizeof *r);
    if (vocab < 1 || k < 0 || n < 0)
        return ls_fail(err, "quality: bad reference shape (vocab %d, k %d, n %lld)", vocab, k,
                       (long long)n);
    if (k >= vocab)
        k = 0; /* a top-k as large as the vocabulary is the full distribution */
    r->vocab = vocab;
    r->k = k;
    r->n = n;
    size_t nn = n > 0 ? (size_t)n : 1;
    size_t w = k == 0 ? (size_t)vocab : (size_t)k;
    r->lse = malloc(nn * sizeof *r->lse);
    r->nll = malloc(nn * sizeof *r->nll);
    r->top = malloc(nn * sizeof *r->top);
    r->logits = malloc(nn * w * sizeof *r->logits);
    if (k > 0) {
        r->ids = malloc(nn * w * sizeof *r->ids);
        r->rest = malloc(nn * sizeof *r->rest);
    }
    if (!r->lse || !r->nll || !r->top || !r->logits || (k > 0 && (!r->ids || !r->rest))) {
        ls_qref_free(r);
        return ls_fail(err, "quality: out of memory for the fp reference of %lld tokens "
                       "(%.1f MiB)", (long long)n, (double)ls_qref_bytes(vocab, k, n) / 1048576.0);
    }
    return 0;
}

int ls_tokq_init(ls_tokq *t, int64_t n, ls_error *err)
{
    memset(t, 0, sizeof *t);
    size_t nn = n > 0 ? (size_t)n : 1;
    t->n = n;
    t->kld = malloc(nn * sizeof *t->kld);
    t->nll = malloc(nn * sizeof *t->nll);
    t->top = malloc(nn * sizeof *t->top);
    if (!t->kld || !t->nll || !t->top) {
        ls_tokq_free(t);
        return ls_fail(err, "quality: out of memory for %lld per-token results", (long long)n);
    }
    return 0;
}

void ls_tokq_free(ls_tokq *t)
{
    free(t->kld), free(t->nll), free(t->top);
    memset(t, 0, sizeof *t);
}

/* The same steps as ls_ppl_nll (float max, double sum of exp(l - max), max + log(sum)), so
 * NLLs from it equal the perplexity module's bit for bit. */
double ls_logsumexp(const float *logits, int vocab, int32_t *argmax)
{
    float mx = ls_max_float(logits, vocab);
    if (argmax) { /* the first largest, as a strict running maximum would find it */
        int32_t am = 0;
        while (am < vocab && !(logits[am] == mx))
            am++;
        *argmax = am < vocab ? am : 0;
    }
    double s = ls_sum_exp(logits, vocab, (double)mx);
    return (double)mx + log(s);
}

/* Probability mass outside ids[0..k-1]: sum of all minus sum of those, each max-shifted
 * exactly like ls_logsumexp. The fp reference and the quantized side both use it, so the
 * same logits give the same mass bit for bit. */
static double rest_mass(const float *logits, int vocab, const int32_t *ids, int k, double lse)
{
    double all = ls_sum_exp(logits, vocab, lse), top = 0.0;
    for (int j = 0; j < k; j++)
        top += exp((double)logits[ids[j]] - lse);
    double rest = all - top;
    return rest > 0 ? rest / all : 0.0;
}

/* k largest logits, largest first (ties: lower id first), by insertion into a sorted
 * list: O(vocab * k) worst case, fine for k of tens. */
static void top_k(const float *logits, int vocab, int k, int32_t *ids, float *vals)
{
    int have = 0;
    for (int v = 0; v < vocab; v++) {
        float x = logits[v];
        if (have == k && !(x > vals[k - 1]))
            continue;
        int at = have < k ? have++ : k - 1;
        while (at > 0 && x > vals[at - 1]) {
            vals[at] = vals[at - 1];
            ids[at] = ids[at - 1];
            at--;
        }
        vals[at] = x;
        ids[at] = v;
    }
}

void ls_qref_set(ls_qref *r, int64_t i, const float *logits, int32_t target)
{
    int32_t am;
    double lse = ls_logsumexp(logits, r->vocab, &am);
    r->lse[i] = lse;
    r->nll[i] = lse - (double)logits[target];
    r->top[i] = am;
    if (r->k == 0) {
        memcpy(r->logits + i * r->vocab, logits, (size_t)r->vocab * sizeof(float));
        return;
    }
    int32_t *ids = r->ids + i * r->k;
    top_k(logits, r->vocab, r->k, ids, r->logits + i * r->k);
    r->rest[i] = rest_mass(logits, r->vocab, ids, r->k, lse);
}

/* One term p * g(t), g(t) = t - 1 + e^-t, t = log p - log q: >= 0 term by term. */
static double kl_term(double logp, double logq)
{
    double p = exp(logp);
    if (p == 0.0)
        return exp(logq);
    double t = logp - logq;
    if (-t > 700.0) /* e^-t would overflow: p (t - 1) + q */
        return p * (t - 1.0) + exp(logq);
    double g = fabs(t) < 1e-4 ? t * t * (0.5 - t / 6.0 + t * t / 24.0) : t + expm1(-t);
    return p * g;
}

void ls_quality_token(const ls_qref *r, int64_t i, const float *logits, int32_t target,
                      ls_tokq *out, int64_t j)
{
    int32_t am;
    double lse_q = ls_logsumexp(logits, r->vocab, &am);
    double lse_p = r->lse[i];
    double kl = 0.0;
    if (r->k == 0) {
        const float *lp = r->logits + i * r->vocab;
        for (int v = 0; v < r->vocab; v++)
            kl += kl_term((double)lp[v] - lse_p, (double)logits[v] - lse_q);
    } else {
        const float *lp = r->logits + i * r->k;
        const int32_t *ids = r->ids + i * r->k;
        for (int c = 0; c < r->k; c++)
            kl += kl_term((double)lp[c] - lse_p, (double)logits[ids[c]] - lse_q);
        double rp = r->rest[i], rq = rest_mass(logits, r->vocab, ids, r->k, lse_q);
        if (rp > 0 || rq > 0)
            kl += rp > 0 ? kl_term(log(rp), log(rq > 1e-300 ? rq : 1e-300)) : rq;
    }
    out->kld[j] = kl;
    out->nll[j] = lse_q - (double)logits[target];
    out->top[j] = am;
}

/* mean and population variance, two passes in double */
static void mean_var(const double *x, int64_t n, double *mean, double *var)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += x[i];
    double m = n ? s / (double)n : 0.0, v = 0.0;
    for (int64_t i = 0; i < n; i++)
        v += (x[i] - m) * (x[i] - m);
    *mean = m;
    *var = n ? v / (double)n : 0.0;
}

static double se_of(double var, int64_t n)
{
    return n > 1 ? sqrt(var / (double)(n - 1)) : NAN;
}

double ls_percentile_sorted(const double *v, int64_t n, double fraction)
{
    if (n <= 0)
        return NAN;
    if (fraction <= 0)
        return v[0];
    if (fraction >= 1)
        return v[n - 1];
    double p = fraction * (double)(n - 1);
    int64_t lo = (int64_t)p;
    double f = p - (double)lo;
    int64_t hi = lo + 1 < n ? lo + 1 : n - 1;
    return (1.0 - f) * v[lo] + f * v[hi];
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void ls_quality_stats_of(const ls_qref *r, const ls_tokq *t, int64_t n, bool with_percentiles,
                         ls_quality_stats *s)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    s->ppl = NAN;
    double var;
    mean_var(t->kld, n, &s->kld_mean, &var);
    s->kld_se = se_of(var, n);
    double *d = malloc((size_t)(n > 0 ? n : 1) * sizeof *d);
    int64_t same = 0;
    for (int64_t i = 0; i < n; i++) {
        same += t->top[i] == r->top[i];
        if (d)
            d[i] = t->nll[i] - r->nll[i];
    }
    double p = n ? (double)same / (double)n : NAN;
    s->same_top_pct = 100.0 * p;
    s->same_top_se = n > 1 ? 100.0 * sqrt(p * (1.0 - p) / (double)(n - 1)) : NAN;
    if (d) {
        mean_var(d, n, &s->ln_ppl_ratio, &var);
        s->ln_ppl_ratio_se = se_of(var, n);
    } else {
        s->ln_ppl_ratio = s->ln_ppl_ratio_se = NAN;
    }
    s->kld_p50 = s->kld_p90 = s->kld_p95 = s->kld_p99 = s->kld_p999 = NAN;
    s->kld_max = NAN;
    double mx = 0.0;
    for (int64_t i = 0; i < n; i++)
        mx = t->kld[i] > mx ? t->kld[i] : mx;
    if (n > 0)
        s->kld_max = mx;
    if (with_percentiles && d && n > 0) {
        memcpy(d, t->kld, (size_t)n * sizeof *d);
        qsort(d, (size_t)n, sizeof *d, cmp_double);
        s->kld_p50 = ls_percentile_sorted(d, n, 0.50);
        s->kld_p90 = ls_percentile_sorted(d, n, 0.90);
        s->kld_p95 = ls_percentile_sorted(d, n, 0.95);
        s->kld_p99 = ls_percentile_sorted(d, n, 0.99);
        s->kld_p999 = ls_percentile_sorted(d, n, 0.999);
        s->kld_max = d[n - 1];
    }
    free(d);
}

void ls_quality_compare(const ls_qref *r, const ls_tokq *base, const ls_tokq *cur, int64_t n,
                        ls_quality_diff *d)
{
    memset(d, 0, sizeof *d);
    d->n = n;
    double mb = 0, mc = 0, md = 0, ms = 0, mn = 0;
    bool same = true;
    for (int64_t i = 0; i < n; i++) {
        mb += base->kld[i];
        mc += cur->kld[i];
        ms += (double)((cur->top[i] == r->top[i]) - (base->top[i] == r->top[i]));
        mn += cur->nll[i] - base->nll[i];
        same = same && base->kld[i] == cur->kld[i] && base->nll[i] == cur->nll[i] &&
               base->top[i] == cur->top[i];
    }
    double inv = n ? 1.0 / (double)n : 0.0;
    mb *= inv, mc *= inv, ms *= inv, mn *= inv;
    md = mc - mb;
    double vb = 0, vc = 0, cbc = 0, vd = 0, vs = 0, vn = 0;
    for (int64_t i = 0; i < n; i++) {
        double b = base->kld[i] - mb, c = cur->kld[i] - mc;
        double dd = cur->kld[i] - base->kld[i] - md;
        double ds = (double)((cur->top[i] == r->top[i]) - (base->top[i] == r->top[i])) - ms;
        double dn = cur->nll[i] - base->nll[i] - mn;
        vb += b * b, vc += c * c, cbc += b * c, vd += dd * dd, vs += ds * ds, vn += dn * dn;
    }
    vb *= inv, vc *= inv, cbc *= inv, vd *= inv, vs *= inv, vn *= inv;
    d->identical = same;
    d->kld = md;
    d->kld_se = se_of(vd, n);
    d->same_top_pct = 100.0 * ms;
    d->same_top_se = 100.0 * se_of(vs, n);
    d->ln_ppl_ratio = mn;
    d->ln_ppl_ratio_se = se_of(vn, n);
    /* relative change R - 1, R = mean_cur / mean_base; its error by the delta method with
       the per-token (paired) covariance of the two KLDs. Near R = 1 this equals the paired
       difference's SE over the base mean; away from it, it is the tighter, right interval
       for a ratio of correlated means. */
    if (mb > 0 && n > 1) {
        double R = mc / mb, k = 1.0 / (double)(n - 1);
        double var_r = (vc - 2.0 * R * cbc + R * R * vb) * k / (mb * mb);
        d->kld_rel = R - 1.0;
        d->kld_rel_se = sqrt(var_r > 0 ? var_r : 0.0);
    } else {
        d->kld_rel = d->kld_rel_se = NAN;
    }
    /* the verdict reads the interval it prints: the relative one when there is one */
    if (same || n < 2)
        d->kld_distinguishable = false;
    else if (isfinite(d->kld_rel) && d->kld_rel_se > 0)
        d->kld_distinguishable = fabs(d->kld_rel) > LS_Z95 * d->kld_rel_se;
    else
        d->kld_distinguishable = d->kld_se > 0 ? fabs(d->kld) > LS_Z95 * d->kld_se : d->kld != 0;
}

void ls_quality_verdict(const ls_quality_diff *d, double mem_pct, char *buf, size_t cap)
{
    char mem[48] = "";
    if (isfinite(mem_pct))
        snprintf(mem, sizeof mem, "%+.2f %% memory: ", mem_pct);
    char kld[96];
    if (isfinite(d->kld_rel))
        snprintf(kld, sizeof kld, "KLD %+.1f %% +/- %.1f %%", 100.0 * d->kld_rel,
                 100.0 * LS_Z95 * d->kld_rel_se);
    else
        snprintf(kld, sizeof kld, "KLD %+.3g +/- %.2g", d->kld, LS_Z95 * d->kld_se);
    if (d->identical)
        snprintf(buf, cap, "%sidentical to base on %lld tokens", mem, (long long)d->n);
    else if (d->kld_distinguishable)
        snprintf(buf, cap, "%s%s against base (95 %%, %lld tokens)", mem, kld, (long long)d->n);
    else
        snprintf(buf, cap, "%snot distinguishable from base with %lld tokens (%s)", mem,
                 (long long)d->n, kld);
}
