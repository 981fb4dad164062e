#include "io/result_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/atomic_write.h"
#include "base/version.h"
#include "method/mxq.h"

#define MIB (1024.0 * 1024.0)

void ls_memory_view_of(const ls_profile *p, const ls_analysis *a, ls_memory_view *out)
{
    memset(out, 0, sizeof *out);
    out->model_mib = out->model_fp_mib = -1;
    out->known = a->memory_known;
    if (!out->known)
        return;
    out->base_bpp = a->mem.base_bpp;
    out->bpp = a->mem.bpp;
    out->base_mib = a->mem.base_mib;
    out->mib = a->mem.mib;
    out->delta_mib = a->mem.mib - a->mem.base_mib;
    out->extra_pct = a->mem.extra_pct;
    if (p->other_bytes >= 0) {
        out->model_mib = a->mem.mib + (double)p->other_bytes / MIB;
        if (p->linear_bytes >= 0)
            out->model_fp_mib = (double)(p->other_bytes + p->linear_bytes) / MIB;
    }
}

cJSON *ls_json_exact_number(double v)
{
    if (!isfinite(v))
        return cJSON_CreateNull();
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", v);
    return cJSON_CreateRaw(buf);
}

static cJSON *settings_json(const ls_analysis *a)
{
    cJSON *o = cJSON_CreateObject();
    if (o)
        ls_settings_to_result_json(&a->settings, a->target, o);
    /* budget methods (mxq, sensi-milp, kurt-milp): the solve behind the allocation */
    if (o && a->budget) {
        cJSON *b = cJSON_AddObjectToObject(o, "budget");
        cJSON_AddNumberToObject(b, "units", (double)a->budget_units);
        cJSON_AddItemToObject(b, "bpp", ls_json_exact_number(a->budget_bpp));
        cJSON_AddItemToObject(b, "mib", ls_json_exact_number(a->budget_mib));
        cJSON_AddStringToObject(b, "cost", a->settings.method == LS_METHOD_MXQ ? "fnorm" : "milp");
        cJSON_AddItemToObject(b, "cost_total", ls_json_exact_number(a->cost_total));
        cJSON_AddItemToObject(b, "lower_bound", ls_json_exact_number(a->solve.lower_bound));
        cJSON_AddBoolToObject(b, "optimal", a->solve.status == LS_MCKP_OPTIMAL);
        cJSON_AddNumberToObject(b, "seconds", a->solve.seconds);
        cJSON_AddNumberToObject(b, "states", (double)a->solve.states_total);
    }
    return o;
}

static cJSON *model_json(const ls_profile *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", p->name);
    cJSON_AddStringToObject(o, "path", p->path);
    cJSON_AddStringToObject(o, "format", p->source);
    cJSON_AddNumberToObject(o, "n_layers", p->n_layers);
    if (ls_profile_params_known(p)) {
        double total = 0;
        for (int i = 0; i < p->n_layers * LS_N_MODULES; i++)
            total += (double)p->params[i];
        cJSON_AddNumberToObject(o, "params_linear", total);
    } else {
        cJSON_AddNullToObject(o, "params_linear");
    }
    return o;
}

static cJSON *module_json(const ls_profile *p, const ls_analysis *a, int l, int m)
{
    int i = LS_IDX(l, m);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "layer", l);
    cJSON_AddStringToObject(o, "module", ls_module_name(m));
    if (p->params[i] > 0)
        cJSON_AddNumberToObject(o, "params", (double)p->params[i]);
    else
        cJSON_AddNullToObject(o, "params");
    cJSON_AddItemToObject(o, "kurtosis", ls_json_exact_number(p->kurtosis[i]));
    cJSON_AddItemToObject(o, "sensitivity", ls_json_exact_number(p->sensitivity[i]));
    cJSON_AddItemToObject(o, "act_energy", p->act_energy ? ls_json_exact_number(p->act_energy[i])
                                                         : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "imatrix_error", p->imatrix_error
                                                  ? ls_json_exact_number(p->imatrix_error[i])
                                                  : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "measured_dkl", p->measured_dkl
                                                 ? ls_json_exact_number(p->measured_dkl[i])
                                                 : cJSON_CreateNull());
    const ls_detection *d = ls_analysis_detection(a, m, l);
    bool has = d && l > 0 && d->valid[l];
    cJSON_AddItemToObject(o, "diff", has ? ls_json_exact_number(d->diff[l]) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "z", has ? ls_json_exact_number(d->z[l]) : cJSON_CreateNull());
    cJSON_AddBoolToObject(o, "outlier", has && d->outlier[l]);
    if (has && d->rank[l] > 0)
        cJSON_AddNumberToObject(o, "rank", d->rank[l]);
    else
        cJSON_AddNullToObject(o, "rank");
    cJSON_AddStringToObject(o, "config", ls_stop_get(a->cfg[i])->name);
    cJSON_AddBoolToObject(o, "boosted", a->boosted[i] != 0);
    return o;
}

static cJSON *memory_json(const ls_profile *p, const ls_analysis *a)
{
    ls_memory_view v;
    ls_memory_view_of(p, a, &v);
    if (!v.known)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "base_bpp", v.base_bpp);
    cJSON_AddNumberToObject(o, "bpp", v.bpp);
    cJSON_AddNumberToObject(o, "base_mib", v.base_mib);
    cJSON_AddNumberToObject(o, "mib", v.mib);
    cJSON_AddNumberToObject(o, "delta_mib", v.delta_mib);
    cJSON_AddNumberToObject(o, "extra_pct", v.extra_pct);
    cJSON_AddItemToObject(o, "model_mib", v.model_mib >= 0 ? cJSON_CreateNumber(v.model_mib)
                                                            : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "model_fp_mib", v.model_fp_mib >= 0
                                                 ? cJSON_CreateNumber(v.model_fp_mib)
                                                 : cJSON_CreateNull());
    cJSON_AddNumberToObject(o, "params_linear", (double)a->mem.params_linear);
    cJSON_AddNumberToObject(o, "n_boosted", a->n_boosted);
    cJSON_AddNumberToObject(o, "n_modules", p->n_layers * LS_N_MODULES);
    return o;
}

static cJSON *warnings_json(const ls_profile *p, const ls_analysis *a)
{
    cJSON *w = cJSON_CreateArray();
    for (int i = 0; i < p->n_warnings; i++)
        cJSON_AddItemToArray(w, cJSON_CreateString(p->warnings[i]));
    if (a->note[0])
        cJSON_AddItemToArray(w, cJSON_CreateString(a->note));
    return w;
}

/* {"format": FORMAT, "version": 1, "generator": ..., "model": {...}}: every document's head. */
static cJSON *new_doc(const char *format, const ls_profile *p)
{
    cJSON *doc = cJSON_CreateObject();
    if (!doc)
        return NULL;
    cJSON_AddStringToObject(doc, "format", format);
    cJSON_AddNumberToObject(doc, "version", 1);
    cJSON_AddStringToObject(doc, "generator", "layerscope " LS_VERSION);
    cJSON_AddItemToObject(doc, "model", model_json(p));
    return doc;
}

static cJSON *imatrix_json(const ls_profile *p);

cJSON *ls_result_json(const ls_profile *p, const ls_analysis *a)
{
    cJSON *doc = new_doc("layerscope-result", p);
    if (!doc)
        return NULL;
    cJSON_AddItemToObject(doc, "settings", settings_json(a));
    if (p->sensitivity_source[0])
        cJSON_AddStringToObject(doc, "sensitivity_source", p->sensitivity_source);
    else
        cJSON_AddNullToObject(doc, "sensitivity_source");
    cJSON_AddStringToObject(doc, "sensitivity_label",
                            p->sensitivity_label[0] ? p->sensitivity_label : "sensitivity");
    cJSON *mods = cJSON_AddArrayToObject(doc, "modules");
    for (int l = 0; l < p->n_layers; l++)
        for (int m = 0; m < LS_N_MODULES; m++)
            cJSON_AddItemToArray(mods, module_json(p, a, l, m));
    cJSON_AddItemToObject(doc, "memory", memory_json(p, a));
    cJSON_AddItemToObject(doc, "warnings", warnings_json(p, a));
    cJSON_AddItemToObject(doc, "imatrix", imatrix_json(p));
    ls_agreement ag;
    if (ls_agreement_compute(p, a->settings.base, 10, &ag) == 0)
        ls_result_json_add_agreement(doc, &ag);
    return doc;
}

/* {"file", "format", "chunks", "dataset", "entries"} or null. */
static cJSON *imatrix_json(const ls_profile *p)
{
    const ls_imatrix_meta *m = &p->imatrix;
    if (!m->file[0])
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", m->file);
    cJSON_AddStringToObject(o, "format", m->format);
    cJSON_AddItemToObject(o, "chunks", m->chunks >= 0 ? cJSON_CreateNumber((double)m->chunks)
                                                      : cJSON_CreateNull());
    cJSON_AddStringToObject(o, "dataset", m->dataset);
    cJSON_AddNumberToObject(o, "entries", m->entries);
    return o;
}

void ls_result_json_add_agreement(cJSON *doc, const ls_agreement *ag)
{
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "agreement");
    cJSON *o = cJSON_AddObjectToObject(doc, "agreement");
    cJSON *cols = cJSON_AddArrayToObject(o, "metrics");
    for (int i = 0; i < ag->n_metrics; i++)
        cJSON_AddItemToArray(cols, cJSON_CreateString(ls_metric_name(ag->metrics[i])));
    cJSON *pairs = cJSON_AddArrayToObject(o, "pairs");
    for (int i = 0; i < ag->n_pairs; i++) {
        const ls_agreement_pair *q = &ag->pairs[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "a", ls_metric_name(q->a));
        cJSON_AddStringToObject(e, "b", ls_metric_name(q->b));
        cJSON_AddNumberToObject(e, "n", q->n);
        cJSON_AddItemToObject(e, "spearman", ls_json_exact_number(q->rho));
        cJSON *pm = cJSON_AddObjectToObject(e, "spearman_per_module");
        for (int m = 0; m < LS_N_MODULES; m++)
            cJSON_AddItemToObject(pm, ls_module_short_name(m),
                                  ls_json_exact_number(q->rho_module[m]));
        cJSON_AddNumberToObject(e, "top_n", q->top_n);
        cJSON_AddNumberToObject(e, "top_overlap", q->overlap);
        cJSON_AddItemToArray(pairs, e);
    }
}

void ls_result_json_add_quantization(cJSON *doc, const ls_qmodel *qm)
{
    cJSON *mods = cJSON_GetObjectItemCaseSensitive(doc, "modules");
    int i = 0;
    cJSON *m;
    cJSON_ArrayForEach(m, mods)
    {
        if (i >= qm->n_layers * LS_N_MODULES)
            break;
        const ls_qmodule *q = &qm->mods[i++];
        if (q->stop < 0) {
            cJSON_AddNullToObject(m, "qerr");
            continue;
        }
        cJSON_AddNumberToObject(m, "qerr", q->qerr);
        cJSON_AddNumberToObject(m, "qerr_mean_abs", q->qerr_mean_abs);
        cJSON_AddNumberToObject(m, "iterations", q->q.iterations);
        cJSON_AddNumberToObject(m, "stored_bytes", (double)q->q.stored_bytes);
        cJSON_AddBoolToObject(m, "scale_quantized", q->q.scale_quantized);
    }
    ls_qtotals t;
    ls_qmodel_totals(qm, &t);
    cJSON *o = cJSON_AddObjectToObject(doc, "quantization");
    cJSON_AddStringToObject(o, "method", "hqq 0.1.7.post2 (axis 0, optimize)");
    cJSON_AddBoolToObject(o, "quant_meta", qm->quant_meta);
    cJSON_AddNumberToObject(o, "modules", t.n_modules);
    cJSON_AddNumberToObject(o, "params", (double)t.params);
    cJSON_AddNumberToObject(o, "nominal_bpp", t.nominal_bpp);
    cJSON_AddNumberToObject(o, "stored_bpp", t.stored_bpp);
    cJSON_AddNumberToObject(o, "nominal_mib", t.nominal_mib);
    cJSON_AddNumberToObject(o, "stored_mib", t.stored_mib);
    cJSON_AddNumberToObject(o, "qerr_total", t.fro_total);
    cJSON_AddNumberToObject(o, "nonfinite_weights", (double)t.nonfinite);
    cJSON_AddNumberToObject(o, "scale_meta_skipped", t.scale_meta_skipped);
    cJSON_AddNumberToObject(o, "quantized_this_run", qm->n_last_quantized);
    cJSON_AddNumberToObject(o, "seconds", qm->last_seconds);
    cJSON_AddStringToObject(o, "note",
                            "nominal bpp is the paper's b1 + 16/g1 + 1/(4 g1); stored bpp is "
                            "what HQQ 0.1.x stores: 3-bit weights are packed 10 per int32 with "
                            "row padding, so they cost more than 3 bits");
}

void ls_result_json_add_perplexity(cJSON *doc, const ls_ppl_compare *c, const char *eval)
{
    cJSON *o = cJSON_AddObjectToObject(doc, "perplexity");
    cJSON_AddStringToObject(o, "protocol", ls_ppl_protocol_name(c->protocol));
    cJSON_AddNumberToObject(o, "ctx", c->ctx);
    cJSON_AddNumberToObject(o, "stride", c->stride);
    cJSON_AddNumberToObject(o, "tokens", (double)c->n_tokens);
    cJSON_AddStringToObject(o, "compute", ls_compute_name(c->fp.compute));
    if (eval)
        cJSON_AddStringToObject(o, "eval", eval);
    const struct {
        const char *name, *err_name;
        bool have;
        const ls_ppl_result *r;
    } runs[] = {{"fp", "fp_err", c->have_fp, &c->fp},
                {"base", "base_err", c->have_base, &c->base},
                {"current", "current_err", c->have_current, &c->current}};
    for (int i = 0; i < 3; i++) {
        cJSON_AddItemToObject(o, runs[i].name, runs[i].have ? ls_json_exact_number(runs[i].r->ppl)
                                                            : cJSON_CreateNull());
        bool err_known = runs[i].have && c->protocol == LS_PPL_LLAMACPP;
        cJSON_AddItemToObject(o, runs[i].err_name,
                              err_known ? ls_json_exact_number(runs[i].r->ppl_err)
                                        : cJSON_CreateNull());
    }
    cJSON_AddItemToObject(o, "delta_pct", ls_json_exact_number(c->delta_pct));
    cJSON_AddItemToObject(o, "delta_fp_pct", ls_json_exact_number(c->delta_fp_pct));
    cJSON_AddStringToObject(o, "note", c->note);
}

static cJSON *quality_stats_json(const ls_quality_stats *s)
{
    cJSON *o = cJSON_CreateObject();
    const struct {
        const char *name;
        double v;
    } f[] = {{"kld_mean", s->kld_mean},         {"kld_se", s->kld_se},
             {"kld_p50", s->kld_p50},           {"kld_p90", s->kld_p90},
             {"kld_p95", s->kld_p95},           {"kld_p99", s->kld_p99},
             {"kld_p999", s->kld_p999},         {"kld_max", s->kld_max},
             {"same_top_pct", s->same_top_pct}, {"same_top_se", s->same_top_se},
             {"ln_ppl_ratio", s->ln_ppl_ratio}, {"ln_ppl_ratio_se", s->ln_ppl_ratio_se},
             {"ppl", s->ppl}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        cJSON_AddItemToObject(o, f[i].name, ls_json_exact_number(f[i].v));
    return o;
}

void ls_result_json_add_quality(cJSON *doc, const ls_quality_result *q, double precision)
{
    cJSON *o = cJSON_AddObjectToObject(doc, "quality");
    cJSON_AddStringToObject(o, "protocol", ls_ppl_protocol_name(q->protocol));
    cJSON_AddNumberToObject(o, "ctx", q->ctx);
    cJSON_AddNumberToObject(o, "stride", q->stride);
    cJSON_AddNumberToObject(o, "tokens", (double)q->tokens);
    cJSON_AddNumberToObject(o, "windows", (double)q->n_windows);
    cJSON_AddNumberToObject(o, "windows_available", (double)q->windows_available);
    cJSON_AddStringToObject(o, "stopped_by", q->stopped_by ? q->stopped_by : "");
    cJSON_AddItemToObject(o, "precision", precision > 0 ? ls_json_exact_number(precision)
                                                        : cJSON_CreateNull());
    cJSON_AddBoolToObject(o, "reference_cached", q->reference_cached);
    cJSON_AddBoolToObject(o, "base_cached", q->base_cached);
    cJSON_AddBoolToObject(o, "coarsened", q->coarsened);
    cJSON_AddNumberToObject(o, "top_k", q->top_k);
    cJSON_AddItemToObject(o, "fp_ppl", ls_json_exact_number(q->fp_ppl));
    cJSON_AddItemToObject(o, "base", q->have_base ? quality_stats_json(&q->base)
                                                  : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "current", q->have_current ? quality_stats_json(&q->current)
                                                        : cJSON_CreateNull());
    if (q->have_base && q->have_current) {
        const ls_quality_diff *d = &q->current_vs_base;
        cJSON *c = cJSON_AddObjectToObject(o, "current_vs_base");
        const struct {
            const char *name;
            double v;
        } f[] = {{"kld", d->kld},
                 {"kld_se", d->kld_se},
                 {"kld_rel", d->kld_rel},
                 {"kld_rel_se", d->kld_rel_se},
                 {"same_top_pct", d->same_top_pct},
                 {"same_top_se", d->same_top_se},
                 {"ln_ppl_ratio", d->ln_ppl_ratio},
                 {"ln_ppl_ratio_se", d->ln_ppl_ratio_se}};
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
            cJSON_AddItemToObject(c, f[i].name, ls_json_exact_number(f[i].v));
        cJSON_AddBoolToObject(c, "distinguishable", d->kld_distinguishable);
        cJSON_AddBoolToObject(c, "identical", d->identical);
    } else {
        cJSON_AddNullToObject(o, "current_vs_base");
    }
    cJSON_AddStringToObject(o, "verdict", q->verdict);
    cJSON_AddItemToObject(o, "mem_pct", ls_json_exact_number(q->mem_pct));
    cJSON *pl = cJSON_AddArrayToObject(o, "per_layer");
    for (int l = 0; q->per_layer && l < q->n_layers; l++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "layer", l);
        cJSON_AddItemToObject(e, "rel_l2", ls_json_exact_number(q->per_layer[l].rel_l2));
        cJSON_AddItemToObject(e, "cosine", ls_json_exact_number(q->per_layer[l].cosine));
        cJSON_AddItemToArray(pl, e);
    }
    cJSON_AddNumberToObject(o, "per_layer_tokens", (double)q->per_layer_tokens);
}

/* [b1, g1, b2, g2] as the fork's optimal_configs holds it (b2 = 8, g2 = 128 always). */
static cJSON *config_tuple(int stop)
{
    const ls_stop *s = ls_stop_get(stop);
    int v[4] = {s->nbits, s->group_size, 8, 128};
    return cJSON_CreateIntArray(v, 4);
}

cJSON *ls_export_json(const ls_profile *p, const ls_analysis *a)
{
    cJSON *doc = new_doc("layerscope-allocation", p);
    if (!doc)
        return NULL;
    cJSON *base = cJSON_AddObjectToObject(doc, "base");
    const ls_stop *bs = ls_stop_get(a->settings.base);
    cJSON_AddStringToObject(base, "config", bs->name);
    cJSON_AddNumberToObject(base, "nbits", bs->nbits);
    cJSON_AddNumberToObject(base, "group_size", bs->group_size);
    cJSON_AddNumberToObject(base, "axis", 0);
    cJSON_AddBoolToObject(base, "optimize", 1);
    cJSON_AddBoolToObject(base, "quant_zero", 1);
    cJSON_AddBoolToObject(base, "quant_scale", 1);
    cJSON *zm = cJSON_AddObjectToObject(base, "zero_meta");
    cJSON_AddNumberToObject(zm, "nbits", 8);
    cJSON_AddNullToObject(zm, "group_size");
    cJSON *sm = cJSON_AddObjectToObject(base, "scale_meta");
    cJSON_AddNumberToObject(sm, "nbits", 8);
    cJSON_AddNumberToObject(sm, "group_size", 128);
    cJSON_AddItemToObject(doc, "method", settings_json(a));
    cJSON *oc = cJSON_AddObjectToObject(doc, "optimal_configs");
    cJSON *boosted = cJSON_AddArrayToObject(doc, "boosted");
    for (int l = 0; l < p->n_layers; l++)
        for (int m = 0; m < LS_N_MODULES; m++) {
            char key[64];
            snprintf(key, sizeof key, "%d.%s", l, ls_module_name(m));
            int i = LS_IDX(l, m);
            cJSON_AddItemToObject(oc, key, config_tuple(a->cfg[i]));
            if (a->boosted[i])
                cJSON_AddItemToArray(boosted, cJSON_CreateString(key));
        }
    cJSON_AddItemToObject(doc, "memory", memory_json(p, a));
    return doc;
}

int ls_json_write_file(const char *path, const cJSON *doc, ls_error *err)
{
    char *text = cJSON_Print(doc);
    if (!text)
        return ls_fail(err, "%s: out of memory while serialising JSON", path);
    size_t len = strlen(text);
    char *with_nl = realloc(text, len + 2);
    if (!with_nl) {
        free(text);
        return ls_fail(err, "%s: out of memory", path);
    }
    with_nl[len] = '\n';
    with_nl[len + 1] = '\0';
    int rc = ls_write_file_atomic(path, with_nl, len + 1, err);
    free(with_nl);
    return rc;
}
