/* An exact solver for the multiple-choice knapsack with one budget: pick one choice per
 * item, minimise the sum of costs subject to the sum of weights <= capacity. This is the
 * problem behind MXQ (docs/method.md §8): items are (layer, module) matrices, choices the 12
 * HQQ configs, weights their memory, costs their FNorm (or the MiLP variants' costs).
 *
 * Weights are integers so the budget test is exact (the caller picks the unit; MXQ uses
 * 1/512 bit, in which every config's memory is a whole number). Costs are doubles; the
 * answer is optimal up to floating-point rounding of the cost sums (no solution whose
 * cost is lower than the returned one by more than 1e-12 of the sums involved exists).
 *
 * Method: choices dominated within an item are dropped (heavier and not cheaper); the
 * linear relaxation is solved exactly by the greedy over the lower convex hulls, giving
 * the Lagrangian multiplier lambda and an incumbent (the greedy rounding, then improved
 * by single-item moves); a dynamic program then runs over the items keeping only Pareto
 * (weight, cost) states, and cuts a state when its cost plus the Lagrangian bound of the
 * items not yet decided cannot beat the incumbent. The last layer's best state is the
 * optimum. */
#ifndef LS_MCKP_H
#define LS_MCKP_H

#include <stdint.h>

#include "base/error.h"
#include "base/progress.h"

typedef struct ls_mckp {
    int n_items, n_choices;
    const int64_t *weight; /* [n_items * n_choices], >= 0 */
    const double *cost;    /* [n_items * n_choices]; NaN = choice not available */
    int64_t capacity;
    int no_bound_cut; /* 1: plain Pareto DP without the Lagrangian cut (bench peer only) */
} ls_mckp;

typedef enum ls_mckp_status {
    LS_MCKP_OPTIMAL = 0,
    LS_MCKP_INFEASIBLE,  /* even the lightest choices exceed the capacity */
    LS_MCKP_STOPPED,     /* time limit or cancel: no answer is given */
    LS_MCKP_FAILED,      /* bad input or out of memory */
} ls_mckp_status;

typedef struct ls_mckp_result {
    ls_mckp_status status;
    double cost;          /* optimal sum of costs */
    int64_t weight;       /* its sum of weights */
    int64_t min_weight;   /* lightest feasible total (every item at its lightest choice) */
    int64_t max_weight;   /* weight of the unconstrained optimum (capacity beyond: no effect) */
    double lower_bound;   /* linear-relaxation bound */
    double greedy_cost;   /* the incumbent the search started from */
    double lambda;        /* Lagrangian multiplier of the budget */
    int64_t states_peak;  /* largest Pareto state set of one layer */
    int64_t states_total; /* states kept over all layers */
    double seconds;
} ls_mckp_result;

/* Solves p; choice[n_items] receives the chosen choice index per item when the status is
 * OPTIMAL (and is left untouched otherwise). time_limit <= 0 means none. progress may be
 * NULL; its cancel flag stops the search. err gets a one-line reason for every status but
 * OPTIMAL. */
ls_mckp_status ls_mckp_solve(const ls_mckp *p, double time_limit, ls_progress *progress,
                             int *choice, ls_mckp_result *res, ls_error *err);

/* The naive reference: every combination (n_choices ^ n_items of them, at most 2^26).
 * Same status and result conventions (only status, cost and weight are filled). */
ls_mckp_status ls_mckp_solve_exhaustive(const ls_mckp *p, int *choice, ls_mckp_result *res,
                                        ls_error *err);

#endif
