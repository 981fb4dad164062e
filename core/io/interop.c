#include "io/interop.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/atomic_write.h"

/* The toolkit's module orders: kurtosis files group q, k, v, o, gate, down, up; metrics
 * files list q, v, k, o, gate, up, down within a layer. */
static const int kurtosis_order[LS_N_MODULES] = {LS_MOD_Q,    LS_MOD_K,    LS_MOD_V, LS_MOD_O,
                                                 LS_MOD_GATE, LS_MOD_DOWN, LS_MOD_UP};
static const int metrics_order[LS_N_MODULES] = {LS_MOD_Q,    LS_MOD_V,  LS_MOD_K,   LS_MOD_O,
                                                LS_MOD_GATE, LS_MOD_UP, LS_MOD_DOWN};

/* %.17g round-trips a double; NA for unknown values, as R reads them. */
static void put_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fputs("NA", f);
}

int ls_write_kurtosis_csv(const char *path, const ls_profile *p, ls_error *err)
{
    ls_atomic_file af;
    if (ls_atomic_open(path, &af, err) < 0)
        return -1;
    fputs("module,layer,param_count,kurtosis\n", af.f);
    for (int k = 0; k < LS_N_MODULES; k++) {
        int m = kurtosis_order[k];
        for (int l = 0; l < p->n_layers; l++) {
            int i = LS_IDX(l, m);
            fprintf(af.f, "%s,%d,", ls_module_name(m), l);
            if (p->params[i] > 0)
                fprintf(af.f, "%lld", (long long)p->params[i]);
            else
                fputs("NA", af.f);
            fputc(',', af.f);
            put_num(af.f, p->kurtosis[i]);
            fputc('\n', af.f);
        }
    }
    return ls_atomic_commit(&af, err);
}

/* Mean and sample std of the sensitivity column over all rows (each matrix has 12 rows
 * with the same value, so weighting by 12 cancels in the mean; the std uses N = 12 n). */
static void column_stats(const ls_profile *p, double *mean, double *sd)
{
    double s = 0, ss = 0;
    long n = 0;
    for (int i = 0; i < p->n_layers * LS_N_MODULES; i++)
        if (isfinite(p->sensitivity[i])) {
            s += p->sensitivity[i];
            n++;
        }
    *mean = n ? s / n : NAN;
    for (int i = 0; i < p->n_layers * LS_N_MODULES; i++)
        if (isfinite(p->sensitivity[i]))
            ss += (p->sensitivity[i] - *mean) * (p->sensitivity[i] - *mean);
    long rows = 12 * n;
    *sd = rows > 1 ? sqrt(12 * ss / (rows - 1)) : NAN;
}

int ls_write_metrics_csv(const char *path, const ls_profile *p, ls_error *err)
{
    double mean, sd;
    column_stats(p, &mean, &sd);
    /* the toolkit's config order: nbit1 ascending, then gsize1 32, 64, 128 */
    static const int bits[4] = {2, 3, 4, 8}, groups[3] = {32, 64, 128};
    ls_atomic_file af;
    if (ls_atomic_open(path, &af, err) < 0)
        return -1;
    fputs("layer,module,nbit1,gsize1,nbit2,gsize2,fnorm,memmb,params,kurtosis,cost_sensi,"
          "sensitivity\n", af.f);
    for (int l = 0; l < p->n_layers; l++)
        for (int k = 0; k < LS_N_MODULES; k++) {
            int m = metrics_order[k], i = LS_IDX(l, m);
            double sens = p->sensitivity[i];
            int cost = isfinite(sens) && sd > 0 && fabs(sens - mean) / sd > 3 ? 2 : 1;
            for (int b = 0; b < 4; b++)
                for (int g = 0; g < 3; g++) {
                    int stop = ls_stop_find(bits[b], groups[g]);
                    fprintf(af.f, "%d,%s,%d,%d,8,128,", l, ls_module_name(m), bits[b], groups[g]);
                    put_num(af.f, p->fnorm ? p->fnorm[(size_t)i * LS_N_STOPS + stop] : NAN);
                    fputc(',', af.f);
                    if (p->params[i] > 0)
                        fprintf(af.f, "%.17g,%lld,",
                                ls_stop_bpp(stop) * (double)p->params[i] / 8 / 1048576,
                                (long long)p->params[i]);
                    else
                        fputs("NA,NA,", af.f);
                    put_num(af.f, p->kurtosis[i]);
                    fprintf(af.f, ",%d,", cost);
                    put_num(af.f, sens);
                    fputc('\n', af.f);
                }
        }
    return ls_atomic_commit(&af, err);
}

const char *ls_gguf_type_for_bits(int nbits)
{
    switch (nbits) {
    case 2: return "q2_K";
    case 3: return "q3_K";
    case 4: return "q4_K";
    default: return "q8_0";
    }
}

/* GGUF tensor name stems of the seven modules. */
static const char *const gguf_names[LS_N_MODULES] = {"attn_q",   "attn_k", "attn_v",  "attn_output",
                                                     "ffn_gate", "ffn_up", "ffn_down"};

int ls_write_llamacpp_overrides(const char *path, const ls_profile *p, const ls_analysis *a,
                                ls_error *err)
{
    ls_atomic_file af;
    if (ls_atomic_open(path, &af, err) < 0)
        return -1;
    const ls_stop *base = ls_stop_get(a->settings.base);
    const ls_stop *target = ls_stop_get(a->target);
    fprintf(af.f,
            "# llama-quantize tensor-type overrides written by layerscope for %s.\n"
            "# APPROXIMATION: HQQ %s -> %s is mapped to the closest GGUF types by bits only\n"
            "# (%s base, %s boosted); group sizes and HQQ's zero-point optimisation have no\n"
            "# GGUF equivalent. Use, for example:\n"
            "#   llama-quantize --pure --output-tensor-type q8_0 --token-embedding-type q8_0 \\\n"
            "#       $(grep -v '^#' %s) model-f16.gguf out.gguf %s\n"
            "# --pure keeps llama.cpp's own per-tensor mix out; HQQ leaves the classifier and\n"
            "# the embeddings unquantized, hence q8_0 for them. llama.cpp before 2026-07-15\n"
            "# (PR #25716) ignores --tensor-type together with --pure: drop --pure there, and\n"
            "# the type's own mix then also raises a few tensors this list does not boost.\n",
            p->name, base->name, target->name, ls_gguf_type_for_bits(base->nbits),
            ls_gguf_type_for_bits(target->nbits), path,
            base->nbits == 8 ? "Q8_0" : base->nbits == 4 ? "Q4_K_M" : base->nbits == 3 ? "Q3_K_M" : "Q2_K");
    for (int l = 0; l < p->n_layers; l++)
        for (int m = 0; m < LS_N_MODULES; m++)
            if (a->boosted[LS_IDX(l, m)])
                fprintf(af.f, "--tensor-type ^blk\\.%d\\.%s\\.weight$=%s\n", l, gguf_names[m],
                        ls_gguf_type_for_bits(ls_stop_get(a->cfg[LS_IDX(l, m)])->nbits));
    return ls_atomic_commit(&af, err);
}
