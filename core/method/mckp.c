#include "method/mckp.h"
#include "base/clock.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One undominated choice of an item: weight ascending, cost strictly descending. */
typedef struct option {
    int64_t w;
    double c;
    int index; /* choice index in the input */
} option;

/* A DP state: total weight and cost of the items decided so far, and how it was reached. */
typedef struct state {
    int64_t w;
    double c;
    int32_t parent;
    uint8_t option;
} state;

/* A hull segment of one item, for the linear relaxation. */
typedef struct segment {
    double slope; /* cost saved per unit of weight */
    int item, from, to;
} segment;

static int cmp_option(const void *a, const void *b)
{
    const option *x = a, *y = b;
    if (x->w != y->w)
        return x->w < y->w ? -1 : 1;
    if (x->c != y->c)
        return x->c < y->c ? -1 : 1;
    return x->index - y->index;
}

static int cmp_segment(const void *a, const void *b)
{
    const segment *x = a, *y = b;
    if (x->slope != y->slope)
        return x->slope > y->slope ? -1 : 1;
    if (x->item != y->item)
        return x->item - y->item;
    return x->from - y->from;
}

/* The Pareto list of one item into out (returns its length, 0 when nothing is available). */
static int pareto_options(const ls_mckp *p, int item, option *out)
{
    option all[256];
    int n = 0;
    for (int c = 0; c < p->n_choices; c++) {
        double cost = p->cost[(size_t)item * p->n_choices + c];
        if (isnan(cost))
            continue;
        all[n].w = p->weight[(size_t)item * p->n_choices + c];
        all[n].c = cost;
        all[n].index = c;
        n++;
    }
    qsort(all, (size_t)n, sizeof *all, cmp_option);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (k == 0 || all[i].c < out[k - 1].c) {
            if (k > 0 && all[i].w == out[k - 1].w)
                continue; /* same weight, sorted by cost: the first is the cheapest */
            out[k++] = all[i];
        }
    return k;
}

/* Lower convex hull of a Pareto list (indices into it). */
static int lower_hull(const option *o, int n, int *hull)
{
    int h = 0;
    for (int i = 0; i < n; i++) {
        while (h >= 2) {
            const option *a = &o[hull[h - 2]], *b = &o[hull[h - 1]], *c = &o[i];
            /* b is above the chord a-c (or on it): not a vertex of the lower hull */
            double lhs = (b->c - a->c) * (double)(c->w - a->w);
            double rhs = (c->c - a->c) * (double)(b->w - a->w);
            if (lhs >= rhs)
                h--;
            else
                break;
        }
        hull[h++] = i;
    }
    return h;
}

typedef struct prepared {
    int n_items;
    option *opt;  /* [n_items * n_choices] */
    int *n_opt;   /* [n_items] */
} prepared;

static void prepared_free(prepared *pr)
{
    free(pr->opt);
    free(pr->n_opt);
}

static ls_mckp_status fail_status(ls_mckp_status s, ls_mckp_result *res)
{
    res->status = s;
    return s;
}

static int64_t sum_weight(const prepared *pr, const int *pos)
{
    int64_t w = 0;
    for (int i = 0; i < pr->n_items; i++)
        w += pr->opt[(size_t)i * 256 + pos[i]].w;
    return w;
}

ls_mckp_status ls_mckp_solve(const ls_mckp *p, double time_limit, ls_progress *progress,
                             int *choice, ls_mckp_result *res, ls_error *err)
{
    double t0 = ls_seconds_now();
    memset(res, 0, sizeof *res);
    res->lower_bound = res->greedy_cost = NAN;
    const int n = p->n_items;
    if (n <= 0 || p->n_choices <= 0 || p->n_choices > 256) {
        ls_fail(err, "budget solver: %d items of %d choices: nothing to solve", n, p->n_choices);
        return fail_status(LS_MCKP_FAILED, res);
    }
    for (size_t i = 0; i < (size_t)n * p->n_choices; i++)
        if (p->weight[i] < 0 || isinf(p->cost[i])) {
            ls_fail(err, "budget solver: item %zu: negative weight or infinite cost",
                    i / (size_t)p->n_choices);
            return fail_status(LS_MCKP_FAILED, res);
        }

    prepared pr = {n, calloc((size_t)n * 256, sizeof(option)), calloc((size_t)n, sizeof(int))};
    int *hull = malloc((size_t)n * 256 * sizeof(int)), *n_hull = calloc((size_t)n, sizeof(int));
    int *pos = calloc((size_t)n, sizeof(int));
    segment *seg = malloc((size_t)n * 256 * sizeof(segment));
    double *suffix_l = malloc(((size_t)n + 1) * sizeof(double));
    int64_t *suffix_w = malloc(((size_t)n + 1) * sizeof(int64_t));
    state *cur = NULL, *next = NULL;
    state **levels = calloc((size_t)n, sizeof(state *));
    ls_mckp_status status = LS_MCKP_FAILED;
    if (!pr.opt || !pr.n_opt || !hull || !n_hull || !pos || !seg || !suffix_l || !suffix_w ||
        !levels) {
        ls_fail(err, "budget solver: out of memory");
        goto out;
    }

    /* 1. Undominated choices; the lightest total; the unconstrained optimum's weight. */
    int64_t min_w = 0, max_w = 0;
    for (int i = 0; i < n; i++) {
        option *o = &pr.opt[(size_t)i * 256];
        pr.n_opt[i] = pareto_options(p, i, o);
        if (pr.n_opt[i] == 0) {
            ls_fail(err, "budget solver: item %d has no available choice", i);
            goto out;
        }
        min_w += o[0].w;
        max_w += o[pr.n_opt[i] - 1].w;
    }
    res->min_weight = min_w;
    res->max_weight = max_w;
    if (min_w > p->capacity) {
        ls_fail(err, "budget solver: infeasible: the lightest choices need %lld units, the "
                     "budget is %lld", (long long)min_w, (long long)p->capacity);
        status = LS_MCKP_INFEASIBLE;
        goto out;
    }

    /* 2. Linear relaxation by the greedy over hull segments (steepest first). The first
     * segment that no longer fits sets lambda; the greedy goes on with the others for the
     * incumbent. */
    int n_seg = 0;
    for (int i = 0; i < n; i++) {
        const option *o = &pr.opt[(size_t)i * 256];
        int *h = &hull[(size_t)i * 256];
        n_hull[i] = lower_hull(o, pr.n_opt[i], h);
        for (int k = 0; k + 1 < n_hull[i]; k++) {
            const option *a = &o[h[k]], *b = &o[h[k + 1]];
            seg[n_seg].slope = (a->c - b->c) / (double)(b->w - a->w);
            seg[n_seg].item = i;
            seg[n_seg].from = k;
            seg[n_seg].to = k + 1;
            n_seg++;
        }
    }
    qsort(seg, (size_t)n_seg, sizeof *seg, cmp_segment);
    int *hpos = calloc((size_t)n, sizeof(int)); /* position on the hull */
    unsigned char *blocked = calloc((size_t)n, 1);
    if (!hpos || !blocked) {
        free(hpos);
        free(blocked);
        ls_fail(err, "budget solver: out of memory");
        goto out;
    }
    int64_t room = p->capacity - min_w;
    double lambda = 0, lp_bound = 0;
    bool lp_done = false;
    for (int i = 0; i < n; i++)
        lp_bound += pr.opt[(size_t)i * 256].c;
    for (int s = 0; s < n_seg; s++) {
        int i = seg[s].item;
        if (blocked[i] || hpos[i] != seg[s].from)
            continue;
        const option *o = &pr.opt[(size_t)i * 256];
        const int *h = &hull[(size_t)i * 256];
        int64_t dw = o[h[seg[s].to]].w - o[h[seg[s].from]].w;
        double dc = o[h[seg[s].to]].c - o[h[seg[s].from]].c;
        if (dw <= room) {
            room -= dw;
            hpos[i] = seg[s].to;
            if (!lp_done)
                lp_bound += dc;
        } else {
            if (!lp_done) {
                lambda = seg[s].slope;
                lp_bound += dc * (double)room / (double)dw; /* the fractional item */
                lp_done = true;
            }
            blocked[i] = 1;
        }
    }
    for (int i = 0; i < n; i++)
        pos[i] = hull[(size_t)i * 256 + hpos[i]];
    free(hpos);
    free(blocked);

    /* Improve the incumbent by single-item moves to any cheaper choice that fits. */
    int64_t used = sum_weight(&pr, pos);
    for (bool moved = true; moved;) {
        moved = false;
        for (int i = 0; i < n; i++) {
            const option *o = &pr.opt[(size_t)i * 256];
            int best = pos[i];
            for (int k = pos[i] + 1; k < pr.n_opt[i]; k++)
                if (used - o[pos[i]].w + o[k].w <= p->capacity)
                    best = k; /* later options are cheaper */
            if (best != pos[i]) {
                used += o[best].w - o[pos[i]].w;
                pos[i] = best;
                moved = true;
            }
        }
    }
    double incumbent = 0;
    for (int i = 0; i < n; i++)
        incumbent += pr.opt[(size_t)i * 256 + pos[i]].c;
    res->greedy_cost = incumbent;
    res->lower_bound = lp_done ? lp_bound : incumbent;
    res->lambda = lambda;

    /* 3. Lagrangian bound of the items from k on, for the remaining capacity R:
     * sum_j min_c (cost + lambda w) - lambda R. */
    suffix_l[n] = 0;
    suffix_w[n] = 0;
    double scale = fabs(incumbent) + lambda * (double)p->capacity;
    for (int i = n - 1; i >= 0; i--) {
        const option *o = &pr.opt[(size_t)i * 256];
        double m = INFINITY;
        for (int k = 0; k < pr.n_opt[i]; k++)
            m = fmin(m, o[k].c + lambda * (double)o[k].w);
        suffix_l[i] = suffix_l[i + 1] + m;
        suffix_w[i] = suffix_w[i + 1] + o[0].w;
        scale += fabs(m);
    }
    /* Keep a state unless its bound exceeds the incumbent by more than rounding can
     * explain: nothing strictly better is ever cut. */
    const double slack = 1e-12 * scale;

    /* 4. The DP over Pareto states. */
    size_t cap = 1024, n_cur = 1;
    cur = malloc(cap * sizeof *cur);
    next = malloc(cap * sizeof *next);
    if (!cur || !next) {
        ls_fail(err, "budget solver: out of memory");
        goto out;
    }
    cur[0] = (state){0, 0.0, -1, 0};
    const int64_t state_budget = (int64_t)1 << 27; /* states kept over all layers */
    for (int i = 0; i < n; i++) {
        if ((time_limit > 0 && ls_seconds_now() - t0 > time_limit) ||
            ls_progress_tick(progress, i, n, "solving the budget allocation")) {
            ls_fail(err, "budget solver: %s after %.1f s at item %d of %d (no answer)",
                    ls_progress_cancelled(progress) ? "cancelled" : "time limit reached",
                    ls_seconds_now() - t0, i, n);
            status = LS_MCKP_STOPPED;
            goto out;
        }
        const option *o = &pr.opt[(size_t)i * 256];
        size_t need = n_cur * (size_t)pr.n_opt[i]; /* at most this many are kept */
        if (need > cap) {
            size_t nc = cap;
            while (nc < need)
                nc *= 2;
            state *a = realloc(cur, nc * sizeof *a);
            if (a)
                cur = a;
            state *b = realloc(next, nc * sizeof *b);
            if (b)
                next = b;
            if (!a || !b) {
                ls_fail(err, "budget solver: out of memory at item %d (%zu states)", i, need);
                goto out;
            }
            cap = nc;
        }
        /* The candidates of option k, cur[s] + o[k] for s ascending, are sorted by weight
         * (cur is); merge the n_opt sorted runs, keeping each state only if it is cheaper
         * than every lighter one (Pareto) and its bound does not exclude it. */
        int nk = pr.n_opt[i];
        size_t head[256];
        for (int k = 0; k < nk; k++)
            head[k] = 0;
        const double base_l = suffix_l[i + 1] - lambda * (double)p->capacity;
        const int64_t limit_w = p->capacity - suffix_w[i + 1];
        size_t kept = 0;
        double last_c = INFINITY;
        for (;;) {
            int best = -1;
            int64_t bw = 0;
            double bc = 0;
            for (int k = 0; k < nk; k++) {
                /* advance run k past the states its bound cuts or that cannot beat the
                 * last kept state */
                size_t s = head[k];
                while (s < n_cur) {
                    int64_t w = cur[s].w + o[k].w;
                    if (w > limit_w) {
                        s = n_cur; /* heavier states fit even less */
                        break;
                    }
                    double c = cur[s].c + o[k].c;
                    if (c < last_c &&
                        (p->no_bound_cut || c + base_l + lambda * (double)w <= incumbent + slack))
                        break;
                    s++;
                }
                head[k] = s;
                if (s == n_cur)
                    continue;
                int64_t w = cur[s].w + o[k].w;
                double c = cur[s].c + o[k].c;
                if (best < 0 || w < bw || (w == bw && c < bc)) {
                    best = k;
                    bw = w;
                    bc = c;
                }
            }
            if (best < 0)
                break;
            next[kept++] = (state){bw, bc, (int32_t)head[best], (uint8_t)best};
            last_c = bc;
            head[best]++;
        }
        if (kept == 0) {
            /* Everything is cut: the incumbent is optimal. */
            n_cur = 0;
            break;
        }
        levels[i] = malloc(kept * sizeof(state));
        if (!levels[i]) {
            ls_fail(err, "budget solver: out of memory at item %d", i);
            goto out;
        }
        memcpy(levels[i], next, kept * sizeof(state));
        res->states_total += (int64_t)kept;
        if ((int64_t)kept > res->states_peak)
            res->states_peak = (int64_t)kept;
        if (res->states_total > state_budget) {
            ls_fail(err, "budget solver: more than %lld states kept: giving up (no answer)",
                    (long long)state_budget);
            status = LS_MCKP_STOPPED;
            goto out;
        }
        state *t = cur;
        cur = next;
        next = t;
        n_cur = kept;
    }

    /* 5. The best complete state, if it beats the incumbent. */
    if (n_cur > 0) {
        size_t best = 0;
        for (size_t s = 1; s < n_cur; s++)
            if (cur[s].c < cur[best].c)
                best = s;
        if (cur[best].c < incumbent) {
            int32_t s = (int32_t)best;
            for (int i = n - 1; i >= 0; i--) {
                pos[i] = levels[i][s].option;
                s = levels[i][s].parent;
            }
        }
    }
    res->cost = 0;
    res->weight = 0;
    for (int i = 0; i < n; i++) {
        const option *o = &pr.opt[(size_t)i * 256 + pos[i]];
        choice[i] = o->index;
        res->cost += o->c;
        res->weight += o->w;
    }
    status = LS_MCKP_OPTIMAL;
out:
    res->status = status;
    res->seconds = ls_seconds_now() - t0;
    if (levels)
        for (int i = 0; i < n; i++)
            free(levels[i]);
    free(levels);
    free(cur);
    free(next);
    free(suffix_l);
    free(suffix_w);
    free(seg);
    free(pos);
    free(hull);
    free(n_hull);
    prepared_free(&pr);
    return status;
}

ls_mckp_status ls_mckp_solve_exhaustive(const ls_mckp *p, int *choice, ls_mckp_result *res,
                                        ls_error *err)
{
    memset(res, 0, sizeof *res);
    const int n = p->n_items, k = p->n_choices;
    double combos = pow((double)k, (double)n);
    if (n <= 0 || k <= 0 || combos > (double)(1 << 26)) {
        ls_fail(err, "exhaustive reference: %d items of %d choices is too many", n, k);
        return fail_status(LS_MCKP_FAILED, res);
    }
    int *idx = calloc((size_t)n, sizeof(int));
    if (!idx) {
        ls_fail(err, "exhaustive reference: out of memory");
        return fail_status(LS_MCKP_FAILED, res);
    }
    bool found = false;
    double best = INFINITY;
    int64_t best_w = 0;
    for (;;) {
        int64_t w = 0;
        double c = 0;
        for (int i = 0; i < n; i++) {
            w += p->weight[(size_t)i * k + idx[i]];
            c += p->cost[(size_t)i * k + idx[i]];
        }
        if (w <= p->capacity && !isnan(c) && (c < best || (c == best && w < best_w))) {
            best = c;
            best_w = w;
            memcpy(choice, idx, (size_t)n * sizeof(int));
            found = true;
        }
        int i = 0;
        while (i < n && ++idx[i] == k)
            idx[i++] = 0;
        if (i == n)
            break;
    }
    free(idx);
    if (!found) {
        ls_fail(err, "exhaustive reference: infeasible");
        return fail_status(LS_MCKP_INFEASIBLE, res);
    }
    res->status = LS_MCKP_OPTIMAL;
    res->cost = best;
    res->weight = best_w;
    return LS_MCKP_OPTIMAL;
}
