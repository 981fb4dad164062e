#include "method/mxq.h"

#include <math.h>
#include <stdlib.h>

int64_t ls_mxq_stop_units(int stop)
{
    const ls_stop *s = ls_stop_get(stop);
    if (!s)
        return -1;
    /* b1 + 2*8/g1 + 32/(g1*128) bits, times 512 */
    return (int64_t)s->nbits * LS_MXQ_UNITS_PER_BIT + 8192 / s->group_size +
           128 / s->group_size;
}

double ls_mxq_units_to_bpp(int64_t units, int64_t params_total)
{
    return params_total > 0 ? (double)units / LS_MXQ_UNITS_PER_BIT / (double)params_total : NAN;
}

double ls_mxq_units_to_mib(int64_t units)
{
    return (double)units / LS_MXQ_UNITS_PER_BIT / 8.0 / 1048576.0;
}

int ls_mxq_budget(const int64_t *params, int n, int base, ls_target_kind kind, double value,
                  int64_t *units, ls_error *err)
{
    int64_t P = 0;
    for (int i = 0; i < n; i++) {
        if (params[i] <= 0)
            return ls_fail(err, "target: the profile has no parameter count for matrix %d "
                                "(memory unknown)", i);
        P += params[i];
    }
    if (n <= 0)
        return ls_fail(err, "target: no matrices");
    int64_t lo = P * ls_mxq_stop_units(0), hi = P * ls_mxq_stop_units(LS_N_STOPS - 1);
    int64_t base_units = P * ls_mxq_stop_units(base >= 0 && base < LS_N_STOPS ? base : 0);
    long double u;
    const char *what;
    double vlo, vhi;
    switch (kind) {
    case LS_TARGET_BPP:
        u = (long double)P * LS_MXQ_UNITS_PER_BIT * value;
        what = "bpp";
        vlo = ls_stop_bpp(0);
        vhi = ls_stop_bpp(LS_N_STOPS - 1);
        break;
    case LS_TARGET_MIB:
        u = (long double)value * 1048576.0L * 8.0L * LS_MXQ_UNITS_PER_BIT;
        what = "MiB";
        vlo = ls_mxq_units_to_mib(lo);
        vhi = ls_mxq_units_to_mib(hi);
        break;
    case LS_TARGET_EXTRA:
        u = (long double)base_units * (100.0L + value) / 100.0L;
        what = "% extra over the base";
        vlo = 100.0 * (double)(lo - base_units) / (double)base_units;
        vhi = 100.0 * (double)(hi - base_units) / (double)base_units;
        break;
    default:
        return ls_fail(err, "target: none set (give --target-bpp, --target-mib or "
                            "--target-extra)");
    }
    if (!isfinite(value))
        return ls_fail(err, "target: not a finite number");
    long double f = floorl(u + 1e-6L);
    /* Feasible: between every matrix at b2g128 and every matrix at b8g32 (inclusive). */
    if (f < (long double)lo || u > (long double)hi + 1e-6L)
        return ls_fail(err, "target %g %s is outside the feasible range %.4f to %.4f %s "
                            "(every matrix at %s .. every matrix at %s)",
                       value, what, vlo, vhi, what, ls_stop_get(0)->name,
                       ls_stop_get(LS_N_STOPS - 1)->name);
    *units = (int64_t)f;
    return 0;
}

int ls_mxq_costs(const ls_profile *p, ls_mxq_cost kind, const unsigned char *outlier,
                 double factor, double *cost, ls_error *err)
{
    int n = p->n_layers * LS_N_MODULES;
    if (kind == LS_MXQ_COST_FNORM) {
        if (!p->fnorm)
            return ls_fail(err, "%s: mxq needs the FNorm of all 12 configs per matrix and "
                                "this profile has no fnorm column: measure it with --fnorm "
                                "on the model (add --fnorm to this command; "
                                "--export-metrics-csv FILE keeps it as a profile)",
                           p->path ? p->path : p->name);
        for (int i = 0; i < n; i++)
            for (int s = 0; s < LS_N_STOPS; s++) {
                double v = p->fnorm[(size_t)i * LS_N_STOPS + s];
                if (!isfinite(v))
                    return ls_fail(err, "%s: fnorm of layer %d %s at %s is missing or not "
                                        "finite: mxq needs all 12 configs of every matrix",
                                   p->path ? p->path : p->name, i / LS_N_MODULES,
                                   ls_module_name(i % LS_N_MODULES), ls_stop_get(s)->name);
                cost[(size_t)i * LS_N_STOPS + s] = v;
            }
        return 0;
    }
    if (!ls_profile_params_known(p))
        return ls_fail(err, "%s: the MiLP costs need parameter counts, which this profile "
                            "lacks", p->path ? p->path : p->name);
    if (!(factor > 0) || !isfinite(factor))
        return ls_fail(err, "--factor: must be a positive number");
    /* P' = sum of params over all CSV rows / 12 = sum over matrices. */
    double P = 0;
    for (int i = 0; i < n; i++)
        P += (double)p->params[i];
    for (int i = 0; i < n; i++) {
        double f = outlier && outlier[i] ? factor : 1.0;
        for (int s = 0; s < LS_N_STOPS; s++) {
            int b1 = ls_stop_get(s)->nbits;
            double penalty = b1 < 3 ? 4.0 : b1 < 4 ? 2.0 : 1.0;
            cost[(size_t)i * LS_N_STOPS + s] =
                penalty * f * 100.0 * ((double)p->params[i] / P) / ls_stop_bpp(s);
        }
    }
    return 0;
}

int ls_mxq_solve(const int64_t *params, int n, const double *cost, int64_t budget_units,
                 double time_limit, ls_progress *progress, unsigned char *cfg,
                 ls_mckp_result *res, ls_error *err)
{
    int64_t *w = malloc((size_t)n * LS_N_STOPS * sizeof *w);
    int *choice = malloc((size_t)n * sizeof *choice);
    if (!w || !choice) {
        free(w);
        free(choice);
        return ls_fail(err, "out of memory");
    }
    for (int i = 0; i < n; i++)
        for (int s = 0; s < LS_N_STOPS; s++)
            w[(size_t)i * LS_N_STOPS + s] = params[i] * ls_mxq_stop_units(s);
    ls_mckp prob = {n, LS_N_STOPS, w, cost, budget_units, 0};
    ls_mckp_status st = ls_mckp_solve(&prob, time_limit, progress, choice, res, err);
    if (st == LS_MCKP_OPTIMAL)
        for (int i = 0; i < n; i++)
            cfg[i] = (unsigned char)choice[i];
    free(w);
    free(choice);
    return st == LS_MCKP_OPTIMAL ? 0 : -1;
}
