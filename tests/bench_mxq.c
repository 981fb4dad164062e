/* MXQ solve time (make bench; never a timed test): an 80-layer profile made by repeating
 * the 32 layers of the Llama-2-7B metrics file (layer l takes layer l mod 32), at budgets
 * across the range. The peer in the same run is the same dynamic program without the
 * Lagrangian cut (a plain Pareto DP), with a time limit; the 32-layer file is timed too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "method/import.h"
#include "method/mckp.h"
#include "method/mxq.h"

static int solve(const char *label, const int64_t *params, int n, const double *cost,
                 double bpp, int no_cut, double limit)
{
    int64_t budget;
    ls_error err;
    if (ls_mxq_budget(params, n, 0, LS_TARGET_BPP, bpp, &budget, &err) < 0) {
        printf("  %s: %s\n", label, err.msg);
        return -1;
    }
    int64_t *w = malloc(sizeof *w * (size_t)n * LS_N_STOPS);
    int *choice = malloc(sizeof *choice * (size_t)n);
    for (int i = 0; i < n; i++)
        for (int s = 0; s < LS_N_STOPS; s++)
            w[(size_t)i * LS_N_STOPS + s] = params[i] * ls_mxq_stop_units(s);
    ls_mckp p = {n, LS_N_STOPS, w, cost, budget, no_cut};
    ls_mckp_result r;
    ls_mckp_status st = ls_mckp_solve(&p, limit, NULL, choice, &r, &err);
    if (st == LS_MCKP_OPTIMAL)
        printf("  %-22s %5.2f bpp: %8.3f s  cost %.4f  (lp bound %.4f, greedy %.4f)  states "
               "%lld, peak %lld\n", label, bpp, r.seconds, r.cost, r.lower_bound,
               r.greedy_cost, (long long)r.states_total, (long long)r.states_peak);
    else
        printf("  %-22s %5.2f bpp: no answer after %.3f s (%s)\n", label, bpp, r.seconds,
               err.msg);
    free(w);
    free(choice);
    return st == LS_MCKP_OPTIMAL ? 0 : -1;
}

int main(void)
{
    const char *root = getenv("LAYERSCOPE_SHARED");
    char path[1024];
    snprintf(path, sizeof path, "%s/data/paper/fnorm-Llama-2-7b-hf.csv",
             root && *root ? root : "../shared");
    ls_profile *p = NULL;
    ls_error err;
    if (ls_import_metrics(path, &p, &err) < 0) {
        printf("bench_mxq: skipped: %s\n", err.msg);
        return 0;
    }
    const int L80 = 80, n32 = p->n_layers * LS_N_MODULES, n80 = L80 * LS_N_MODULES;
    int64_t *params = malloc(sizeof *params * (size_t)n80);
    double *cost = malloc(sizeof *cost * (size_t)n80 * LS_N_STOPS);
    for (int i = 0; i < n80; i++) {
        int src = LS_IDX((i / LS_N_MODULES) % p->n_layers, i % LS_N_MODULES);
        params[i] = p->params[src];
        memcpy(&cost[(size_t)i * LS_N_STOPS], &p->fnorm[(size_t)src * LS_N_STOPS],
               LS_N_STOPS * sizeof *cost);
    }
    static const double bpps[] = {2.13, 2.25, 2.51, 3.13, 3.25, 3.3, 3.51, 4.13, 4.25, 4.51,
                                  6.0};
    const int nb = (int)(sizeof bpps / sizeof bpps[0]);
    printf("MXQ exact solve, Llama-2-7B metrics (%d layers) and repeated to 80 layers:\n",
           p->n_layers);
    double total = 0;
    for (int b = 0; b < nb; b++)
        solve("32 layers", p->params, n32, p->fnorm, bpps[b], 0, 60);
    for (int b = 0; b < nb; b++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        solve("80 layers", params, n80, cost, bpps[b], 0, 60);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        total += (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    }
    printf("  80 layers: %d budgets in %.3f s (mean %.3f s; target under 1 s each)\n", nb,
           total, total / nb);
    printf("peer: the same DP without the Lagrangian cut (time limit 20 s):\n");
    solve("32 layers, no cut", p->params, n32, p->fnorm, 3.25, 1, 20);
    solve("80 layers, no cut", params, n80, cost, 3.25, 1, 20);
    free(params);
    free(cost);
    ls_profile_free(p);
    return 0;
}
