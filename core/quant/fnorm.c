#include "quant/fnorm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "method/budget.h"
#include "quant/hqq.h"

int ls_fnorm_model(const ls_model *m, int threads, ls_progress *progress, ls_profile *p,
                   ls_error *err)
{
    if (!m->has_weights)
        return ls_fail(err, "%s: no weights: FNorm needs a model with tensors", m->path);
    int L = m->cfg.n_layers;
    size_t n = (size_t)L * LS_N_MODULES * LS_N_STOPS;
    if (!p->fnorm) {
        p->fnorm = malloc(n * sizeof *p->fnorm);
        if (!p->fnorm)
            return ls_fail(err, "FNorm: out of memory");
    }
    for (size_t i = 0; i < n; i++)
        p->fnorm[i] = NAN;
    int64_t biggest = 0;
    for (int mod = 0; mod < LS_N_MODULES; mod++) {
        int64_t r, c;
        ls_module_shape(&m->cfg, mod, &r, &c);
        biggest = r * c > biggest ? r * c : biggest;
    }
    float *W = malloc((size_t)biggest * sizeof *W);
    if (!W)
        return ls_fail(err, "FNorm: out of memory for one matrix in f32");
    int64_t total = (int64_t)L * LS_N_MODULES * LS_N_STOPS, done = 0;
    int rc = 0;
    for (int l = 0; l < L && rc == 0; l++)
        for (int mod = 0; mod < LS_N_MODULES && rc == 0; mod++) {
            const ls_tensor *t = ls_model_linear(m, l, mod);
            int64_t rows, cols;
            ls_module_shape(&m->cfg, mod, &rows, &cols);
            if (!t || t->n_elems != rows * cols) {
                done += LS_N_STOPS;
                continue;
            }
            ls_tensor_range_f32(t, 0, t->n_elems, W);
            for (int stop = 0; stop < LS_N_STOPS; stop++, done++) {
                const ls_stop *s = ls_stop_get(stop);
                char name[96];
                snprintf(name, sizeof name, "%d.%s", l, ls_module_name(mod));
                if (ls_progress_tick(progress, done, total, name)) {
                    rc = ls_fail(err, "FNorm: cancelled");
                    break;
                }
                ls_hqq_cfg cfg;
                ls_hqq_cfg_default(&cfg, s->nbits, s->group_size);
                cfg.round_zero = cfg.quant_scale = cfg.quant_zero = false;
                ls_error qerr;
                if (ls_hqq_check(name, rows, cols, &cfg, &qerr) < 0)
                    continue; /* stays NaN: HQQ refuses this configuration here */
                ls_hqq_result res;
                if (ls_hqq_quantize(name, W, rows, cols, &cfg, threads, &res, err) < 0) {
                    rc = -1;
                    break;
                }
                double fro;
                ls_hqq_error(W, &res, &fro, NULL);
                p->fnorm[((size_t)LS_IDX(l, mod)) * LS_N_STOPS + (size_t)stop] = fro;
                ls_hqq_free(&res);
            }
        }
    free(W);
    if (rc == 0)
        ls_progress_tick(progress, total, total, "FNorm done");
    return rc;
}
