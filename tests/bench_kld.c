/* make bench: what the evaluation cache saves (issue 10). On the bundled demo and its
 * eval.txt (paper protocol), timed in one run:
 *   peer:   the perplexity comparison without the cache (fp, base, current: three passes);
 *   first:  P with an empty cache (fp reference + base + current, then both stored);
 *   second: P after the allocation changed (fp and base from the cache: one pass);
 *   repeat: the same as second with a different allocation again.
 * Wall-clock seconds and CPU seconds of the process; ratios second/first and second/peer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eval/ppl_text.h"
#include "eval/quality_run.h"
#include "io/samples.h"
#include "method/budget.h"

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(void)
{
    if (!ls_sample_exists("demo") || !ls_sample_exists("eval.txt")) {
        printf("bench_kld: the bundled demo is missing; skipped\n");
        return 0;
    }
    char mpath[1024], text[1024];
    ls_sample_path("demo", mpath, sizeof mpath);
    ls_sample_path("eval.txt", text, sizeof text);
    ls_error e;
    ls_model *m = NULL;
    ls_tokenizer *tok = NULL;
    if (ls_model_open(mpath, NULL, &m, &e) != 0 ||
        ls_tokenizer_for_model(m, NULL, &tok, &e) != 0) {
        fprintf(stderr, "bench_kld: %s\n", e.msg);
        return 1;
    }
    if (system("rm -rf build/tmp/bench_kld_cache") != 0)
        return 1;
    int n = m->cfg.n_layers * LS_N_MODULES;
    unsigned char *base = malloc((size_t)n), *cur1 = malloc((size_t)n),
                  *cur2 = malloc((size_t)n), *cur3 = malloc((size_t)n);
    memset(base, ls_stop_parse("b3g128"), (size_t)n);
    memcpy(cur1, base, (size_t)n);
    memcpy(cur2, base, (size_t)n);
    memcpy(cur3, base, (size_t)n);
    /* three allocations: a few matrices boosted three stops, as SensiBoost does */
    for (int l = 1; l < m->cfg.n_layers; l += 7)
        cur1[l * LS_N_MODULES + 6] = (unsigned char)ls_stop_parse("b4g128");
    for (int l = 2; l < m->cfg.n_layers; l += 5)
        cur2[l * LS_N_MODULES + 0] = (unsigned char)ls_stop_parse("b4g128");
    for (int l = 3; l < m->cfg.n_layers; l += 4)
        cur3[l * LS_N_MODULES + 4] = (unsigned char)ls_stop_parse("b4g64");

    printf("demo (%d layers, vocab %d), %s, paper protocol; wall and CPU seconds\n",
           m->cfg.n_layers, m->cfg.vocab_size, text);
    double w0 = wall(), c0 = cpu();
    ls_ppl_params pp = ls_ppl_params_default(LS_PPL_PAPER);
    ls_ppl_compare cmp;
    if (ls_ppl_compare_run(m, tok, text, &pp, LS_TEXT_AUTO, base, cur1, NULL, 2, NULL, NULL,
                           NULL, &cmp, &e) != 0) {
        fprintf(stderr, "bench_kld: %s\n", e.msg);
        return 1;
    }
    double w_peer = wall() - w0, c_peer = cpu() - c0;
    printf("  peer: perplexity fp/base/current, no cache      %7.2f s wall %7.2f s CPU  "
           "(PPL %.4f %.4f %.4f)\n", w_peer, c_peer, cmp.fp.ppl, cmp.base.ppl, cmp.current.ppl);
    ls_ppl_compare_free(&cmp);

    const unsigned char *curs[3] = {cur1, cur2, cur3};
    const char *names[3] = {"first P (empty cache)         ",
                            "second P (allocation changed) ",
                            "third P (allocation changed)  "};
    double w[3], c[3];
    for (int k = 0; k < 3; k++) {
        ls_quality_params qp = ls_quality_params_default(LS_PPL_PAPER);
        qp.cache_dir = "build/tmp/bench_kld_cache";
        qp.threads = 2;
        ls_quality_result r;
        w0 = wall(), c0 = cpu();
        if (ls_quality_run(m, tok, text, &qp, base, curs[k], true, NULL, NAN, NULL, NULL, NULL,
                           NULL, NULL, &r, &e) != 0) {
            fprintf(stderr, "bench_kld: %s\n", e.msg);
            return 1;
        }
        w[k] = wall() - w0, c[k] = cpu() - c0;
        printf("  %s %7.2f s wall %7.2f s CPU  (reference %s, base %s; %lld tokens; KLD "
               "base %.5f current %.5f)\n", names[k], w[k], c[k],
               r.reference_cached ? "cached" : "computed", r.base_cached ? "cached" : "computed",
               (long long)r.tokens, r.base.kld_mean, r.current.kld_mean);
        ls_quality_result_free(&r);
    }
    printf("  second / first: %.2fx faster wall, %.2fx CPU; second vs the uncached perplexity "
           "peer: %.2fx wall, %.2fx CPU\n", w[0] / w[1], c[0] / c[1], w_peer / w[1],
           c_peer / c[1]);
    free(base), free(cur1), free(cur2), free(cur3);
    ls_tokenizer_free(tok);
    ls_model_free(m);
    return 0;
}
