/* core/eval/quality_run + qcache on real models (the bundled demo and ../shared stories260K):
 * fp against itself, KLD >= 0, the fast path against a naive double-precision forward,
 * standard errors against a direct computation, coarsened against full, cache hits
 * bit-identical, the demo's b2g64 base clearly worse than fp, sequential stop, and bad cache
 * entries (truncated, corrupted, other text, unwritable directory, eviction). Small chunk
 * counts keep it quick. */
#include "test.h"

#include "batch_run.h"

#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/mapfile.h"
#include "cli/batch.h"
#include "cli/options.h"
#include "eval/qcache.h"
#include "eval/quality_run.h"
#include "io/samples.h"
#include "method/budget.h"
#include "nn/forward.h"
#include "quant/qmodel.h"

typedef struct fixture {
    ls_model *m;
    ls_tokenizer *tok;
    char text[1024];
} fixture;

static bool open_demo(fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    if (!ls_sample_exists("demo") || !ls_sample_exists("eval.txt"))
        return false;
    char path[1024];
    ls_sample_path("demo", path, sizeof path);
    ls_sample_path("eval.txt", fx->text, sizeof fx->text);
    ls_error e;
    if (ls_model_open(path, NULL, &fx->m, &e) != 0 ||
        ls_tokenizer_for_model(fx->m, NULL, &fx->tok, &e) != 0) {
        fprintf(stderr, "  demo: %s\n", e.msg);
        return false;
    }
    return true;
}

static bool open_stories(fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    const char *mp = t_shared("models/stories260K/stories260K.bin");
    const char *tp = t_shared("models/stories260K/tok512.bin");
    const char *tx = t_shared("text/tinystories/tinystories_valid_head.txt");
    if (!mp || !tp || !tx)
        return false;
    char mpath[1024], tpath[1024];
    snprintf(mpath, sizeof mpath, "%s", mp);
    snprintf(tpath, sizeof tpath, "%s", tp);
    snprintf(fx->text, sizeof fx->text, "%s", tx);
    ls_error e;
    if (ls_model_open(mpath, NULL, &fx->m, &e) != 0 ||
        ls_tokenizer_open(tpath, 512, &fx->tok, &e) != 0) {
        fprintf(stderr, "  stories260K: %s\n", e.msg);
        return false;
    }
    return true;
}

static void close_fx(fixture *fx)
{
    ls_tokenizer_free(fx->tok);
    ls_model_free(fx->m);
}

static unsigned char *uniform_cfg(const ls_model *m, const char *stop)
{
    int n = m->cfg.n_layers * LS_N_MODULES;
    unsigned char *c = malloc((size_t)n);
    memset(c, ls_stop_parse(stop), (size_t)n);
    return c;
}

static ls_qmodel *quantized(const ls_model *m, const unsigned char *cfg)
{
    ls_error e;
    ls_qmodel *qm = ls_qmodel_new(m->cfg.n_layers, true, &e);
    if (qm && ls_qmodel_quantize(qm, m, cfg, 2, NULL, &e) != 0) {
        ls_qmodel_free(qm);
        return NULL;
    }
    return qm;
}

static ls_quality_params small_params(int chunks)
{
    ls_quality_params p = ls_quality_params_default(LS_PPL_PAPER);
    p.ppl.max_chunks = chunks;
    p.no_cache = true;
    return p;
}

/* fp against itself: KLD exactly 0, 100 % same top, ln PPL ratio 0. Then a quantized model:
 * every KLD >= 0, SEs equal a direct computation. */
static void check_self_and_se(fixture *fx, const char *name)
{
    ls_error e;
    ls_quality_params p = small_params(4);
    ls_qsession *s = NULL;
    CHECK(ls_qsession_open(fx->m, fx->tok, fx->text, &p, &s, &e) == 0);
    if (!s) {
        fprintf(stderr, "  %s\n", e.msg);
        return;
    }
    ls_tokq t;
    ls_quality_stats st;
    CHECK(ls_qsession_eval(s, NULL, 0, NULL, &t, &st, &e) == 0);
    int64_t nz = 0;
    for (int64_t i = 0; i < t.n; i++)
        nz += t.kld[i] != 0.0;
    CHECK(nz == 0);
    CHECK(st.kld_mean == 0.0 && st.kld_max == 0.0);
    CHECK(st.same_top_pct == 100.0);
    CHECK(st.ln_ppl_ratio == 0.0);
    CHECK(t.n > 100);
    ls_tokq_free(&t);

    unsigned char *cfg = uniform_cfg(fx->m, "b3g128");
    ls_qmodel *qm = quantized(fx->m, cfg);
    CHECK(qm != NULL);
    CHECK(ls_qsession_eval(s, qm, 0, NULL, &t, &st, &e) == 0);
    int64_t neg = 0;
    double sum = 0, ss = 0;
    for (int64_t i = 0; i < t.n; i++) {
        neg += !(t.kld[i] >= 0.0);
        sum += t.kld[i];
    }
    double mean = sum / (double)t.n;
    for (int64_t i = 0; i < t.n; i++)
        ss += (t.kld[i] - mean) * (t.kld[i] - mean);
    CHECK(neg == 0);
    CHECK(st.kld_mean > 0);
    CHECK_REL(st.kld_mean, mean, 1e-12);
    CHECK_REL(st.kld_se, sqrt(ss / (double)(t.n - 1)) / sqrt((double)t.n), 1e-9);
    printf("  %s b3g128: %lld tokens, KLD %.5f +/- %.5f, same top %.2f %%, ln PPL ratio %.5f\n",
           name, (long long)t.n, st.kld_mean, st.kld_se, st.same_top_pct, st.ln_ppl_ratio);
    ls_tokq_free(&t);
    ls_qmodel_free(qm);
    free(cfg);
    ls_qsession_free(s);
}

/* The fast path against ls_forward_ref (double) on the first window: per token KLD, NLL. */
static void check_naive(fixture *fx, const char *name)
{
    ls_error e;
    ls_quality_params p = small_params(1);
    ls_qsession *s = NULL;
    CHECK(ls_qsession_open(fx->m, fx->tok, fx->text, &p, &s, &e) == 0);
    if (!s)
        return;
    unsigned char *cfg = uniform_cfg(fx->m, "b3g64");
    ls_qmodel *qm = quantized(fx->m, cfg);
    ls_tokq t;
    CHECK(qm && ls_qsession_eval(s, qm, 1, NULL, &t, NULL, &e) == 0);
    /* the first window of the paper protocol starts at the text's start (BOS included) */
    int32_t *ids = NULL;
    int64_t n = 0;
    int bos;
    char note[64];
    CHECK(ls_ppl_text_tokens(fx->text, LS_TEXT_AUTO, LS_PPL_PAPER, fx->tok, fx->m, &ids, &n,
                             &bos, note, sizeof note, &e) == 0);
    ls_ppl_params pp = p.ppl;
    CHECK(ls_ppl_resolve(fx->m, &pp, n, NULL, 0, &e) == 0);
    ls_ppl_window *win = NULL;
    int64_t n_win = 0;
    CHECK(ls_ppl_windows(&pp, n, &win, &n_win, &e) == 0);
    int len = win ? win[0].len : 2;
    CHECK(win && win[0].begin == 0 && win[0].score_from == 1);
    free(win);
    int V = fx->m->cfg.vocab_size;
    double *lf = malloc((size_t)len * V * sizeof *lf), *lq = malloc((size_t)len * V * sizeof *lq);
    CHECK(ls_forward_ref(fx->m, NULL, ids, len, lf, &e) == 0);
    CHECK(ls_forward_ref(fx->m, qm, ids, len, lq, &e) == 0);
    double worst = 0, sum_fast = 0, sum_naive = 0;
    int64_t nt = t.n;
    CHECK(nt == len - 1);
    for (int64_t i = 0; i < nt; i++) {
        const double *a = lf + i * V, *b = lq + i * V;
        double ma = a[0], mb = b[0], sa = 0, sb = 0;
        for (int v = 1; v < V; v++)
            ma = fmax(ma, a[v]), mb = fmax(mb, b[v]);
        for (int v = 0; v < V; v++)
            sa += exp(a[v] - ma), sb += exp(b[v] - mb);
        double kl = 0;
        for (int v = 0; v < V; v++) {
            double la = a[v] - ma - log(sa), lb = b[v] - mb - log(sb);
            kl += exp(la) * (la - lb);
        }
        double nll = mb + log(sb) - b[ids[i + 1]];
        double d = fabs(t.kld[i] - kl) / fmax(kl, 1e-4);
        worst = fmax(worst, d);
        CHECK(fabs(t.nll[i] - nll) < 1e-3);
        sum_fast += t.kld[i];
        sum_naive += kl;
    }
    CHECK(worst < 0.02);
    CHECK_REL(sum_fast, sum_naive, 1e-3);
    printf("  %s naive double reference: %lld tokens, mean KLD fast %.6g naive %.6g, worst "
           "per-token relative difference %.2g\n", name, (long long)nt, sum_fast / nt,
           sum_naive / nt, worst);
    free(lf), free(lq), free(ids);
    ls_tokq_free(&t);
    ls_qmodel_free(qm);
    free(cfg);
    ls_qsession_free(s);
}

/* Coarsened (top-k) against full: within tol on the mean KLD, and never above it. */
static void check_coarse(fixture *fx, const char *name, int top_k, double tol)
{
    ls_error e;
    unsigned char *cfg = uniform_cfg(fx->m, "b2g64");
    ls_qmodel *qm = quantized(fx->m, cfg);
    double mean[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        ls_quality_params p = small_params(3);
        if (k == 1) {
            p.cache_limit = 1 << 20; /* the full logits do not fit: top-k */
            p.top_k = top_k;
        }
        ls_qsession *s = NULL;
        CHECK(ls_qsession_open(fx->m, fx->tok, fx->text, &p, &s, &e) == 0);
        if (!s)
            break;
        CHECK(ls_qsession_ref(s)->k == (k ? top_k : 0));
        ls_tokq t;
        ls_quality_stats st;
        CHECK(qm && ls_qsession_eval(s, qm, 0, NULL, &t, &st, &e) == 0);
        mean[k] = st.kld_mean;
        ls_tokq_free(&t);
        ls_qsession_free(s);
    }
    CHECK(mean[1] <= mean[0]);
    CHECK_REL(mean[1], mean[0], tol);
    printf("  %s b2g64: KLD full %.6f, top-%d coarsened %.6f (%.3f %% lower)\n", name, mean[0],
           top_k, mean[1], 100.0 * (mean[0] - mean[1]) / mean[0]);
    ls_qmodel_free(qm);
    free(cfg);
}

static void test_demo_self_and_se(void)
{
    fixture fx;
    if (!open_demo(&fx))
        SKIP("the bundled demo (samples/demo, samples/eval.txt) is missing");
    check_self_and_se(&fx, "demo");
    close_fx(&fx);
}

static void test_stories_self_and_se(void)
{
    fixture fx;
    if (!open_stories(&fx))
        SKIP("../shared/models/stories260K or its text not found");
    check_self_and_se(&fx, "stories260K");
    close_fx(&fx);
}

static void test_demo_naive(void)
{
    fixture fx;
    if (!open_demo(&fx))
        SKIP("the bundled demo is missing");
    check_naive(&fx, "demo");
    close_fx(&fx);
}

static void test_stories_naive(void)
{
    fixture fx;
    if (!open_stories(&fx))
        SKIP("../shared/models/stories260K or its text not found");
    check_naive(&fx, "stories260K");
    close_fx(&fx);
}

static void test_demo_coarse(void)
{
    fixture fx;
    if (!open_demo(&fx))
        SKIP("the bundled demo is missing");
    /* the demo's 1024-token vocabulary has flat tails: top-64 is about 2 % low there
       (printed), top-256 is within 1 % */
    check_coarse(&fx, "demo", 64, 0.04);
    check_coarse(&fx, "demo", 256, 0.01);
    close_fx(&fx);
}

static void test_stories_coarse(void)
{
    fixture fx;
    if (!open_stories(&fx))
        SKIP("../shared/models/stories260K or its text not found");
    check_coarse(&fx, "stories260K", 64, 0.01);
    close_fx(&fx);
}

typedef struct warn_log {
    int n;
    char last[700];
} warn_log;

static void on_warn(void *ctx, const char *line)
{
    warn_log *w = ctx;
    w->n++;
    snprintf(w->last, sizeof w->last, "%s", line);
}

static int run(fixture *fx, const char *dir, int chunks, const unsigned char *base,
               const unsigned char *cur, double precision, warn_log *wl, ls_quality_result *r)
{
    ls_quality_params p = ls_quality_params_default(LS_PPL_PAPER);
    p.ppl.max_chunks = chunks;
    p.cache_dir = dir;
    p.precision = precision;
    p.threads = 2;
    ls_error e;
    int rc = ls_quality_run(fx->m, fx->tok, fx->text, &p, base, cur, true, NULL, 1.0, NULL,
                            NULL, NULL, on_warn, wl, r, &e);
    if (rc != 0)
        fprintf(stderr, "  %s\n", e.msg);
    return rc;
}

/* The demo's comparison through the cache: the second run loads the reference and the base
 * results and gives bit-identical measures; b2g64 is clearly worse than fp. */
static void test_demo_cache_hit(void)
{
    fixture fx;
    if (!open_demo(&fx))
        SKIP("the bundled demo is missing");
    const char *dir = t_tmpdir("quality_cache");
    unsigned char *base = uniform_cfg(fx.m, "b2g64"), *cur = uniform_cfg(fx.m, "b3g64");
    warn_log wl = {0, ""};
    ls_quality_result r1, r2;
    CHECK(run(&fx, dir, 3, base, cur, 0, &wl, &r1) == 0);
    CHECK(run(&fx, dir, 3, base, cur, 0, &wl, &r2) == 0);
    CHECK(wl.n == 0);
    CHECK(!r1.reference_cached && !r1.base_cached);
    CHECK(r2.reference_cached && r2.base_cached);
    CHECK(!r1.coarsened);
    CHECK(memcmp(&r1.base, &r2.base, sizeof r1.base) == 0);
    CHECK(memcmp(&r1.current, &r2.current, sizeof r1.current) == 0);
    CHECK(memcmp(&r1.current_vs_base, &r2.current_vs_base, sizeof r1.current_vs_base) == 0);
    CHECK(r1.fp_ppl == r2.fp_ppl);
    CHECK(r1.tokens == r2.tokens && r1.tokens > 0);
    CHECK(strcmp(r1.stopped_by, "chunks") == 0);
    CHECK(r1.per_layer != NULL && r2.per_layer != NULL && r1.per_layer_tokens > 0);
    for (int l = 0; r1.per_layer && r2.per_layer && l < r1.n_layers; l++) {
        CHECK(r1.per_layer[l].rel_l2 == r2.per_layer[l].rel_l2);
        CHECK(r1.per_layer[l].rel_l2 > 0 && r1.per_layer[l].cosine < 1.0);
        CHECK(r1.per_layer[l].cosine > 0.5);
    }
    /* b2g64: the 95 % interval of its KLD excludes 0 */
    CHECK(r1.base.kld_mean - LS_Z95 * r1.base.kld_se > 0);
    /* b3g64 is better than b2g64, distinguishably */
    CHECK(r1.current.kld_mean < r1.base.kld_mean);
    CHECK(r1.current_vs_base.kld_distinguishable);
    printf("  demo 3 windows, %lld tokens: b2g64 KLD %.4f +/- %.4f; b3g64 KLD %.4f +/- %.4f; "
           "%s; first %.2f s, second %.2f s\n", (long long)r1.tokens, r1.base.kld_mean,
           r1.base.kld_se, r1.current.kld_mean, r1.current.kld_se, r1.verdict, r1.seconds,
           r2.seconds);
    ls_quality_result_free(&r1);
    ls_quality_result_free(&r2);
    free(base), free(cur);
    close_fx(&fx);
}

/* --precision stops early and says so; the same allocation twice is "identical". */
static void test_demo_sequential(void)
{
    fixture fx;
    if (!open_demo(&fx))
        SKIP("the bundled demo is missing");
    unsigned char *base = uniform_cfg(fx.m, "b2g64"), *cur = uniform_cfg(fx.m, "b4g64");
    warn_log wl = {0, ""};
    ls_quality_result r;
    const char *dir = t_tmpdir("quality_seq");
    CHECK(run(&fx, dir, 14, base, cur, 0.5, &wl, &r) == 0);
    CHECK(strcmp(r.stopped_by, "precision") == 0);
    CHECK(r.tokens >= 1024 && r.n_windows < 14); /* not before 1024 tokens */
    CHECK(LS_Z95 * r.current_vs_base.kld_rel_se < 0.5);
    printf("  demo b2g64 -> b4g64 with --precision 0.5 (at most 14 windows): stopped by %s after %lld windows "
           "(%lld tokens): %s\n", r.stopped_by, (long long)r.n_windows, (long long)r.tokens,
           r.verdict);
    ls_quality_result_free(&r);
    CHECK(run(&fx, dir, 3, base, base, 0.1, &wl, &r) == 0);
    CHECK(r.current_vs_base.identical);
    CHECK(strstr(r.verdict, "identical to base") != NULL);
    ls_quality_result_free(&r);
    free(base), free(cur);
    close_fx(&fx);
}

static void corrupt_byte(const char *path, long at)
{
    FILE *f = fopen(path, "r+b");
    if (!f)
        return;
    fseek(f, at, at >= 0 ? SEEK_SET : SEEK_END);
    int c = fgetc(f);
    fseek(f, -1, SEEK_CUR);
    fputc(c ^ 0x5a, f);
    fclose(f);
}

/* Bad cache entries are ignored with one line each and recomputed; unwritable directory;
 * eviction of the oldest entries. */
static void test_cache_bad_input(void)
{
    fixture fx;
    if (!open_demo(&fx))
        SKIP("the bundled demo is missing");
    const char *dir = t_tmpdir("quality_bad");
    char d[600];
    snprintf(d, sizeof d, "%s", dir);
    unsigned char *base = uniform_cfg(fx.m, "b3g128");
    ls_quality_result r;
    warn_log wl = {0, ""};
    CHECK(run(&fx, d, 2, NULL, base, 0, &wl, &r) == 0);
    double kld = r.current.kld_mean;
    ls_quality_result_free(&r);
    CHECK(wl.n == 0);
    /* the reference entry's path */
    char cmd[4096], ref[1024] = "";
    snprintf(cmd, sizeof cmd, "ls %.600s/ref-*.lsq", d);
    FILE *pp = popen(cmd, "r");
    if (pp) {
        if (!fgets(ref, sizeof ref, pp))
            ref[0] = '\0';
        pclose(pp);
    }
    ref[strcspn(ref, "\n")] = '\0';
    CHECK(ref[0] != '\0');
    struct stat st;
    CHECK(stat(ref, &st) == 0);
    /* corrupted payload byte */
    corrupt_byte(ref, -10);
    wl.n = 0;
    CHECK(run(&fx, d, 2, NULL, base, 0, &wl, &r) == 0);
    CHECK(wl.n == 1 && strstr(wl.last, "checksum") != NULL);
    CHECK(!r.reference_cached && r.current.kld_mean == kld);
    ls_quality_result_free(&r);
    /* the run rewrote it; now truncate it */
    CHECK(truncate(ref, st.st_size / 2) == 0);
    wl.n = 0;
    CHECK(run(&fx, d, 2, NULL, base, 0, &wl, &r) == 0);
    CHECK(wl.n == 1 && strstr(wl.last, "truncated") != NULL);
    CHECK(!r.reference_cached && r.current.kld_mean == kld);
    ls_quality_result_free(&r);
    /* truncated inside the header */
    CHECK(truncate(ref, 20) == 0);
    wl.n = 0;
    CHECK(run(&fx, d, 2, NULL, base, 0, &wl, &r) == 0);
    CHECK(wl.n == 1 && strstr(wl.last, "truncated") != NULL);
    ls_quality_result_free(&r);
    /* an entry of another text under this text's name */
    FILE *ft = fopen("build/tmp/quality_bad_other.txt", "w");
    CHECK(ft != NULL);
    if (ft) {
        FILE *src = fopen(fx.text, "r");
        char buf[4096];
        size_t got;
        int blocks = 0;
        while (src && (got = fread(buf, 1, sizeof buf, src)) > 0 && blocks++ < 8)
            fwrite(buf, 1, got, ft);
        if (src)
            fclose(src);
        fputs("\nOne more line makes it another text.\n", ft);
        fclose(ft);
    }
    char other_text[1024];
    snprintf(other_text, sizeof other_text, "%s", fx.text);
    snprintf(fx.text, sizeof fx.text, "build/tmp/quality_bad_other.txt");
    wl.n = 0;
    CHECK(run(&fx, d, 2, NULL, base, 0, &wl, &r) == 0);
    ls_quality_result_free(&r);
    snprintf(cmd, sizeof cmd, "for f in %.600s/ref-*.lsq; do [ \"$f\" = '%.1000s' ] || "
             "cp \"$f\" '%.1000s'; done", d, ref, ref);
    CHECK(system(cmd) == 0);
    snprintf(fx.text, sizeof fx.text, "%s", other_text);
    wl.n = 0;
    CHECK(run(&fx, d, 2, NULL, base, 0, &wl, &r) == 0);
    CHECK(wl.n == 1 && strstr(wl.last, "another text") != NULL);
    CHECK(!r.reference_cached && r.current.kld_mean == kld);
    ls_quality_result_free(&r);
    /* eviction: a limit that holds one reference entry keeps the newest */
    snprintf(cmd, sizeof cmd, "ls %.600s/*.lsq | wc -l", d);
    int before = -1;
    pp = popen(cmd, "r");
    if (pp) {
        if (fscanf(pp, "%d", &before) != 1)
            before = -1;
        pclose(pp);
    }
    CHECK(before >= 2);
    CHECK(stat(ref, &st) == 0);
    int deleted = ls_qcache_evict(d, (int64_t)st.st_size, NULL);
    CHECK(deleted == before - 1);
    CHECK(stat(ref, &st) == 0); /* the most recently used one stays */
    /* an unwritable cache directory: below a regular file; said once per process */
    char bad[700];
    snprintf(bad, sizeof bad, "%s/afile", d);
    FILE *fb = fopen(bad, "w");
    if (fb)
        fclose(fb);
    snprintf(bad, sizeof bad, "%s/afile/cache", d);
    wl.n = 0;
    CHECK(run(&fx, bad, 2, NULL, base, 0, &wl, &r) == 0);
    CHECK(wl.n == 1 && strstr(wl.last, "not writable") != NULL);
    CHECK(r.current.kld_mean == kld);
    ls_quality_result_free(&r);
    wl.n = 0;
    CHECK(run(&fx, bad, 2, NULL, base, 0, &wl, &r) == 0);
    CHECK(wl.n == 0);
    ls_quality_result_free(&r);
    free(base);
    close_fx(&fx);
}

/* The llama.cpp protocol: chunks of n_ctx with the BOS swapped in, the second half scored;
 * fp against itself is exactly 0 there too, and the fp PPL from the reference equals the
 * perplexity module's. */
static void test_demo_llamacpp_protocol(void)
{
    fixture fx;
    if (!open_demo(&fx))
        SKIP("the bundled demo is missing");
    ls_error e;
    ls_quality_params p = small_params(3);
    p.ppl.protocol = LS_PPL_LLAMACPP;
    p.ppl.ctx = 64;
    ls_qsession *s = NULL;
    CHECK(ls_qsession_open(fx.m, fx.tok, fx.text, &p, &s, &e) == 0);
    if (!s) {
        close_fx(&fx);
        return;
    }
    ls_tokq t;
    ls_quality_stats st;
    CHECK(ls_qsession_eval(s, NULL, 0, NULL, &t, &st, &e) == 0);
    CHECK(t.n == 3 * (64 - 64 / 2 - 1));
    CHECK(st.kld_max == 0.0 && st.same_top_pct == 100.0);
    ls_ppl_params pp = p.ppl;
    ls_ppl_compare c;
    CHECK(ls_ppl_compare_run(fx.m, fx.tok, fx.text, &pp, LS_TEXT_AUTO, NULL, NULL, NULL, 2,
                             NULL, NULL, NULL, &c, &e) == 0);
    CHECK_REL(st.ppl, c.fp.ppl, 1e-6);
    ls_ppl_compare_free(&c);
    ls_tokq_free(&t);
    unsigned char *cfg = uniform_cfg(fx.m, "b2g64");
    ls_qmodel *qm = quantized(fx.m, cfg);
    CHECK(qm && ls_qsession_eval(s, qm, 0, NULL, &t, &st, &e) == 0);
    CHECK(st.kld_mean > 0 && st.kld_p50 <= st.kld_max);
    printf("  demo llama.cpp protocol n_ctx 64, 3 chunks: %lld tokens, b2g64 KLD %.5f +/- %.5f\n",
           (long long)t.n, st.kld_mean, st.kld_se);
    ls_tokq_free(&t);
    ls_qmodel_free(qm);
    free(cfg);
    ls_qsession_free(s);
    close_fx(&fx);
}

static const cJSON *item(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *it = item(o, key);
    return cJSON_IsNumber(it) ? it->valuedouble : NAN;
}

/* --kld through batch mode: the "quality" object of the JSON result, consistent with
 * "perplexity"; bad option values are one line with status 2. */
static void test_batch_kld_json(void)
{
    if (!ls_sample_exists("demo"))
        SKIP("the bundled demo is missing");
    const char *dir = t_tmpdir("quality_batch");
    char json[600], cache[600], e[4096];
    snprintf(json, sizeof json, "%s/r.json", dir);
    snprintf(cache, sizeof cache, "%s/cache", dir);
    char *argv[] = {"layerscope", "--batch", "--kld", "--chunks", "2", "--cache-dir", cache,
                    "--json", json, NULL};
    CHECK(ls_test_run_batch(9, argv, e, sizeof e) == 0);
    ls_error err;
    char *text = ls_read_text_file(json, 64 << 20, NULL, &err);
    cJSON *doc = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(doc != NULL);
    if (!doc)
        return;
    const cJSON *q = item(doc, "quality"), *ppl = item(doc, "perplexity");
    CHECK(q != NULL && ppl != NULL);
    CHECK(cJSON_IsString(item(q, "protocol")) &&
          strcmp(item(q, "protocol")->valuestring, "paper") == 0);
    CHECK(num(q, "ctx") == 256 && num(q, "windows") == 2 && num(q, "tokens") == 255);
    CHECK(cJSON_IsString(item(q, "stopped_by")) &&
          strcmp(item(q, "stopped_by")->valuestring, "chunks") == 0);
    CHECK(cJSON_IsFalse(item(q, "reference_cached")) && cJSON_IsFalse(item(q, "coarsened")));
    const char *fields[] = {"kld_mean", "kld_se", "kld_p50", "kld_p90", "kld_p95",
                            "kld_p99", "kld_p999", "kld_max", "same_top_pct", "same_top_se",
                            "ln_ppl_ratio", "ln_ppl_ratio_se", "ppl"};
    for (int k = 0; k < 2; k++) {
        const cJSON *b = item(q, k ? "current" : "base");
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
            CHECK(isfinite(num(b, fields[i])));
        CHECK(num(b, "kld_p50") <= num(b, "kld_p99") && num(b, "kld_p999") <= num(b, "kld_max"));
    }
    CHECK(num(item(q, "base"), "ppl") == num(ppl, "base"));
    CHECK(num(item(q, "current"), "ppl") == num(ppl, "current"));
    CHECK(num(q, "fp_ppl") == num(ppl, "fp"));
    const cJSON *d = item(q, "current_vs_base");
    CHECK(isfinite(num(d, "kld")) && isfinite(num(d, "kld_se")) &&
          isfinite(num(d, "ln_ppl_ratio_se")) && isfinite(num(d, "same_top_se")));
    CHECK(cJSON_IsString(item(q, "verdict")) && strstr(item(q, "verdict")->valuestring,
                                                       "% memory") != NULL);
    const cJSON *pl = item(q, "per_layer");
    CHECK(cJSON_GetArraySize(pl) == 24);
    CHECK(num(cJSON_GetArrayItem(pl, 3), "layer") == 3 &&
          num(cJSON_GetArrayItem(pl, 3), "cosine") <= 1.0 &&
          num(cJSON_GetArrayItem(pl, 3), "rel_l2") > 0);
    cJSON_Delete(doc);
    /* the second run takes the reference and the base from the cache */
    CHECK(ls_test_run_batch(9, argv, e, sizeof e) == 0);
    text = ls_read_text_file(json, 64 << 20, NULL, &err);
    doc = text ? cJSON_Parse(text) : NULL;
    free(text);
    q = doc ? item(doc, "quality") : NULL;
    CHECK(q && cJSON_IsTrue(item(q, "reference_cached")) && cJSON_IsTrue(item(q, "base_cached")));
    cJSON_Delete(doc);
    /* bad values */
    char *bad1[] = {"layerscope", "--batch", "--kld", "--precision", "0", NULL};
    CHECK(ls_test_run_batch(5, bad1, e, sizeof e) == 2);
    CHECK(strstr(e, "--precision") != NULL && strchr(e, '\n') == NULL);
    char *bad2[] = {"layerscope", "--batch", "--kld", "--cache-limit", "lots", NULL};
    CHECK(ls_test_run_batch(5, bad2, e, sizeof e) == 2);
    CHECK(strstr(e, "--cache-limit") != NULL);
    char *bad3[] = {"layerscope", "--batch", "--kld", "--kld-top-k", "0", NULL};
    CHECK(ls_test_run_batch(5, bad3, e, sizeof e) == 2);
    ls_options o;
    char *good[] = {"layerscope", "--kld", "--cache-limit", "512M", "--precision", "0.1",
                    "--no-cache", NULL};
    CHECK(ls_options_parse(7, good, &o, &err) == 0);
    CHECK(o.kld && o.perplexity && o.cache_limit == 512LL << 20 && o.precision == 0.1 &&
          o.no_cache);
}

int main(void)
{
    RUN(test_demo_self_and_se);
    RUN(test_stories_self_and_se);
    RUN(test_demo_naive);
    RUN(test_demo_llamacpp_protocol);
    RUN(test_stories_naive);
    RUN(test_demo_coarse);
    RUN(test_stories_coarse);
    RUN(test_demo_cache_hit);
    RUN(test_demo_sequential);
    RUN(test_cache_bad_input);
    RUN(test_batch_kld_json);
    return t_summary();
}
