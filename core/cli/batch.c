#include "cli/batch.h"

#include <math.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "base/atomic_write.h"
#include "base/mapfile.h"
#include "cli/batch_eval.h"
#include "method/explain.h"
#include "nn/blas_check.h"
#include "io/discover.h"
#include "quant/fnorm.h"
#include "quant/imatrix_error.h"
#include "formats/imatrix.h"
#include "io/interop.h"
#include "method/kurtosis.h"
#include "method/manual.h"
#include "base/parallel.h"
#include "quant/qmodel.h"
#include "io/qmodel_io.h"
#include "io/result_json.h"
#include "io/samples.h"
#include "io/session.h"
#include "io/source.h"
#include "base/version.h"
#include "method/mxq.h"

/* The explorer's number format (method/explain.h) with 7 significant digits. */
static void fmt_metric(char *buf, size_t cap, double v)
{
    ls_fmt_sig(buf, (int)cap, v, 7);
}

static const char *method_label(const ls_settings *s)
{
    switch (s->method) {
    case LS_METHOD_SENSI: return s->ablation ? "SensiBoost ablation (random layers)" : "SensiBoost";
    case LS_METHOD_KURT: return s->ablation ? "KurtBoost ablation (random layers)" : "KurtBoost";
    case LS_METHOD_BOTH: return "SensiBoost + KurtBoost (union)";
    case LS_METHOD_MXQ: return "MXQ: minimum sum of FNorm under the budget";
    case LS_METHOD_SENSI_MILP: return s->ablation ? "SensiMiLP ablation (no outliers)" : "SensiMiLP";
    case LS_METHOD_KURT_MILP: return s->ablation ? "KurtMiLP ablation (no outliers)" : "KurtMiLP";
    default: return "manual";
    }
}

/* A budget method's line: target, budget and the proven optimum. */
static void print_budget_header(FILE *out, const ls_analysis *a)
{
    const ls_settings *s = &a->settings;
    fprintf(out, "method %s (%s)", ls_method_name(s->method), method_label(s));
    if (s->method != LS_METHOD_MXQ)
        fprintf(out, ", mode %s, top-m %d%s, factor %g", ls_settings_mode_label(s), s->top_m,
                s->top_m == 0 ? " (all)" : "", s->factor);
    fprintf(out, "\n");
    fprintf(out, "target %g %s: budget %.6f bpp = %.4f MiB; optimal sum of %s %.6f (linear "
                 "bound %.6f), solved exactly in %.3f s\n",
            s->target, s->target_kind == LS_TARGET_BPP   ? "bpp"
                       : s->target_kind == LS_TARGET_MIB ? "MiB"
                                                         : "% over the base",
            a->budget_bpp, a->budget_mib, s->method == LS_METHOD_MXQ ? "FNorm" : "MiLP cost",
            a->cost_total, a->solve.lower_bound, a->solve.seconds);
}

static void print_header(FILE *out, const ls_profile *p, const ls_analysis *a)
{
    const ls_settings *s = &a->settings;
    fprintf(out, "layerscope %s: %s (%s), %d layers", LS_VERSION, p->name, p->source,
            p->n_layers);
    if (a->memory_known)
        fprintf(out, ", %lld linear parameters", (long long)a->mem.params_linear);
    fprintf(out, "\n");
    if (a->budget)
        print_budget_header(out, a);
    else
    fprintf(out, "method %s (%s), mode %s, top-m %d%s, boost stop %d: %s -> %s\n",
            ls_method_name(s->method), method_label(s),
            ls_settings_mode_label(s) ? ls_settings_mode_label(s) : "-",
            s->top_m, s->top_m == 0 ? " (all)" : "", s->boost_stop,
            ls_stop_get(s->base)->name, ls_stop_get(a->target)->name);
    if (s->ablation)
        fprintf(out, "ablation seed %llu\n", (unsigned long long)s->seed);
    if (!ls_settings_paper_detect(s))
        fprintf(out, "detection: threshold %g, trim %g per side (not the paper's setting)\n",
                s->detect.threshold, s->detect.trim_frac);
    if (p->sensitivity_source[0])
        fprintf(out, "sensitivity: %s\n", p->sensitivity_source);
}

static void print_table(FILE *out, const ls_profile *p, const ls_analysis *a)
{
    fprintf(out, "\n%5s  %-17s %12s %12s %10s %8s  %s\n", "layer", "module", "kurtosis",
            p->sensitivity_label[0] ? p->sensitivity_label : "sensitivity", "z", "outlier",
            "config");
    for (int l = 0; l < p->n_layers; l++)
        for (int m = 0; m < LS_N_MODULES; m++) {
            int i = LS_IDX(l, m);
            char k[32], sv[32], z[32] = "-", o[16] = "";
            fmt_metric(k, sizeof k, p->kurtosis[i]);
            fmt_metric(sv, sizeof sv, p->sensitivity[i]);
            const ls_detection *d = ls_analysis_detection(a, m, l);
            if (d && l > 0 && d->valid[l] && !isnan(d->z[l]))
                snprintf(z, sizeof z, isinf(d->z[l]) ? "inf" : "%.3f", d->z[l]);
            if (d && l > 0 && d->outlier[l])
                snprintf(o, sizeof o, d->selected[l] ? "*#%d" : "(#%d)", d->rank[l]);
            const char *base = ls_stop_get(a->settings.base)->name;
            char cfg[40];
            if (a->boosted[i])
                snprintf(cfg, sizeof cfg, "%s -> %s", base, ls_stop_get(a->cfg[i])->name);
            else
                snprintf(cfg, sizeof cfg, "%s", base);
            fprintf(out, "%5d  %-17s %12s %12s %10s %8s  %s\n", l, ls_module_name(m), k, sv, z,
                    o, cfg);
        }
}

static void print_memory(FILE *out, const ls_profile *p, const ls_analysis *a)
{
    fprintf(out, "\nboosted %d of %d matrices", a->n_boosted, p->n_layers * LS_N_MODULES);
    if (a->note[0])
        fprintf(out, " (%s)", a->note);
    fprintf(out, "\n");
    ls_memory_view v;
    ls_memory_view_of(p, a, &v);
    if (!v.known) {
        fprintf(out, "memory: unknown (the profile has no parameter counts)\n");
        return;
    }
    fprintf(out, "memory (nominal bits per parameter, the 7 linear types):\n");
    fprintf(out, "  base     %-7s %8.4f bpp %12.2f MiB\n", ls_stop_get(a->settings.base)->name,
            v.base_bpp, v.base_mib);
    fprintf(out, "  current          %8.4f bpp %12.2f MiB  %+.2f MiB  extra %+.4f %%\n", v.bpp,
            v.mib, ls_no_neg_zero(v.delta_mib, 2), ls_no_neg_zero(v.extra_pct, 4));
    if (a->budget)
        fprintf(out, "  target           %8.4f bpp %12.2f MiB  (the allocation uses %.4f %% of "
                     "it)\n", a->budget_bpp, a->budget_mib, 100.0 * v.mib / a->budget_mib);
    if (v.model_mib >= 0)
        fprintf(out, "  whole model      %.2f MiB quantized (%.2f MiB as stored; embeddings, "
                     "head and norms at their stored dtype)\n", v.model_mib, v.model_fp_mib);
}

static void print_quantization(FILE *out, const ls_qmodel *qm)
{
    ls_qtotals t;
    ls_qmodel_totals(qm, &t);
    fprintf(out, "\nHQQ quantization (%s metadata), %d modules in %.2f s:\n",
            qm->quant_meta ? "8-bit" : "unquantized", t.n_modules, qm->last_seconds);
    fprintf(out, "%5s  %-17s %8s %12s %12s %5s %12s\n", "layer", "module", "config", "qerr",
            "mean |err|", "iter", "stored B");
    for (int i = 0; i < qm->n_layers * LS_N_MODULES; i++) {
        const ls_qmodule *q = &qm->mods[i];
        if (q->stop < 0)
            continue;
        fprintf(out, "%5d  %-17s %8s %12.6g %12.6g %5d %12zu%s\n", i / LS_N_MODULES,
                ls_module_name(i % LS_N_MODULES), ls_stop_get(q->stop)->name, q->qerr,
                q->qerr_mean_abs, q->q.iterations, q->q.stored_bytes,
                q->q.scale_meta_skipped ? "  (scale kept fp16: 128 does not divide)" : "");
    }
    fprintf(out, "total error %.6g; nominal %.4f bpp = %.3f MiB; stored by HQQ %.4f bpp = "
                 "%.3f MiB (3-bit packing costs more than its nominal bits)\n",
            t.fro_total, t.nominal_bpp, t.nominal_mib, t.stored_bpp, t.stored_mib);
    if (t.nonfinite)
        fprintf(out, "warning: %lld non-finite weights were met (quantized as 0)\n",
                (long long)t.nonfinite);
}

/* Spearman rank correlation and top-N overlap of every two metric columns present. */
static void print_agreement(FILE *out, const ls_profile *p, const ls_analysis *a, int top_n)
{
    ls_agreement ag;
    if (ls_agreement_compute(p, a->settings.base, top_n, &ag) < 0 || ag.n_pairs == 0)
        return;
    fprintf(out, "\nagreement (Spearman rank correlation; top-N overlap):\n");
    fprintf(out, "%-14s %-14s %5s %8s", "metric a", "metric b", "n", "rho");
    for (int m = 0; m < LS_N_MODULES; m++)
        fprintf(out, " %6s", ls_module_short_name(m));
    fprintf(out, " %9s\n", "top-N");
    for (int i = 0; i < ag.n_pairs; i++) {
        const ls_agreement_pair *q = &ag.pairs[i];
        fprintf(out, "%-14s %-14s %5d %8.4f", ls_metric_label(q->a), ls_metric_label(q->b), q->n,
                q->rho);
        for (int m = 0; m < LS_N_MODULES; m++)
            fprintf(out, " %6.3f", q->rho_module[m]);
        fprintf(out, " %4d/%d\n", q->overlap, q->top_n);
    }
}

static int fail(FILE *errf, const ls_error *err)
{
    fprintf(errf, "layerscope: %s\n", err->msg);
    return 2;
}

/* The settings, model path and manual set a run uses: the command line's, completed by a
 * session (settings only when none was given on the command line). */
static int resolve_session(const ls_options *o, ls_session *sess, const char **path,
                           ls_settings *settings, ls_error *err)
{
    *path = o->model_path;
    *settings = o->settings;
    if (!o->session)
        return 0;
    if (ls_session_load(o->session, sess, err) < 0)
        return -1;
    if (!*path)
        *path = sess->model_path;
    if (!o->settings_given)
        *settings = sess->settings;
    return 0;
}

/* With no MODEL (nor session), the bundled demo model. */
static const char *demo_path(char *buf, size_t cap)
{
    if (!ls_sample_exists("demo"))
        return NULL;
    ls_sample_path("demo", buf, cap);
    return buf;
}

static int write_outputs(const ls_options *o, const ls_profile *p, const ls_model *model,
                         const ls_analysis *a, const ls_qmodel *qm,
                         const ls_ppl_compare *cmp, const ls_quality_result *quality,
                         const unsigned char *manual, cJSON *frontier, ls_error *err)
{
    cJSON *doc = ls_result_json(p, a);
    if (!doc)
        return ls_fail(err, "out of memory");
    if (frontier)
        cJSON_AddItemToObject(doc, "frontier", cJSON_Duplicate(frontier, 1));
    if (qm)
        ls_result_json_add_quantization(doc, qm);
    if (o->agreement_top > 0) {
        ls_agreement ag;
        if (ls_agreement_compute(p, a->settings.base, o->agreement_top, &ag) == 0)
            ls_result_json_add_agreement(doc, &ag);
    }
    if (cmp)
        ls_result_json_add_perplexity(doc, cmp, o->eval_path);
    if (quality)
        ls_result_json_add_quality(doc, quality, o->precision);
    int rc = 0;
    if (o->json_path)
        rc = ls_json_write_file(o->json_path, doc, err);
    if (rc == 0 && o->save_session) {
        cJSON *results = cJSON_CreateObject();
        static const char *const kept[] = {"quantization", "perplexity"};
        for (int k = 0; k < 2; k++) {
            cJSON *q = cJSON_GetObjectItemCaseSensitive(doc, kept[k]);
            if (q)
                cJSON_AddItemToObject(results, kept[k], cJSON_Duplicate(q, 1));
        }
        rc = ls_session_save(o->save_session, p, model, &a->settings, manual, results, err);
        cJSON_Delete(results);
    }
    cJSON_Delete(doc);
    if (rc == 0 && o->export_path) {
        cJSON *ex = ls_export_json(p, a);
        rc = ex ? ls_json_write_file(o->export_path, ex, err) : ls_fail(err, "out of memory");
        cJSON_Delete(ex);
    }
    if (rc == 0 && o->kurtosis_out)
        rc = ls_write_kurtosis_csv(o->kurtosis_out, p, err);
    if (rc == 0 && o->metrics_out)
        rc = ls_write_metrics_csv(o->metrics_out, p, err);
    if (rc == 0 && o->llamacpp_out)
        rc = ls_write_llamacpp_overrides(o->llamacpp_out, p, a, err);
    return rc;
}

/* Every output path of the run (its directory must exist and be writable) and every input
 * file named on the command line (a regular file that can be opened). */
static int check_paths(const ls_options *o, ls_error *err)
{
    const struct {
        const char *option, *path;
    } files[] = {
        {"--json", o->json_path},
        {"--export", o->export_path},
        {"--export-kurtosis-csv", o->kurtosis_out},
        {"--export-metrics-csv", o->metrics_out},
        {"--export-llamacpp", o->llamacpp_out},
        {"--export-sensitivity-csv", o->sensitivity_out},
        {"--save-session", o->save_session},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (files[i].path && ls_check_output_path(files[i].option, files[i].path, false, err))
            return -1;
    if (o->save_quantized) {
        if (ls_check_output_path("--save-quantized", o->save_quantized, true, err))
            return -1;
        struct stat st;
        char mark[4096];
        snprintf(mark, sizeof mark, "%s/quant.json", o->save_quantized);
        if (stat(o->save_quantized, &st) == 0 && stat(mark, &st) != 0)
            return ls_fail(err, "--save-quantized %s: exists and is not a layerscope quantized "
                           "model; not replaced", o->save_quantized);
    }
    /* the inputs read later (after the kurtosis pass or the quantization): a missing file, a
     * FIFO or a device is refused now, without blocking */
    const struct {
        const char *option, *path;
    } ins[] = {
        {"--eval", o->eval_path},
        {"--calib", o->calib_path},
        {"--manual", o->manual_path},
        {"--sensitivity-csv", o->sensitivity_csv},
        {"--kurtosis-csv", o->kurtosis_csv},
        {"--tokenizer", o->tokenizer_path},
        {"--session", o->session},
    };
    for (size_t i = 0; i < sizeof ins / sizeof ins[0]; i++) {
        if (!ins[i].path)
            continue;
        int fd = ls_open_regular(ins[i].path, NULL, err);
        if (fd < 0) {
            ls_error_prefix(err, ins[i].option);
            return -1;
        }
        close(fd);
    }
    if (o->load_quantized) {
        struct stat st;
        if (stat(o->load_quantized, &st) != 0)
            return ls_fail(err, "--quantized: %s: not found", o->load_quantized);
        if (!S_ISDIR(st.st_mode))
            return ls_fail(err, "--quantized: %s: not a directory (%s)", o->load_quantized,
                           ls_file_kind_name((unsigned)st.st_mode));
    }
    return 0;
}

int ls_batch_run(const ls_options *o, FILE *out, FILE *errf)
{
    ls_error err;
    ls_session sess;
    memset(&sess, 0, sizeof sess);
    ls_source_options so = {o->tokenizer_path, o->sensitivity_csv, o->kurtosis_csv,
                            o->sensi_select};
    ls_model *model = NULL;
    ls_profile *p = NULL;
    unsigned char *manual = NULL;
    ls_analysis *a = NULL;
    ls_qmodel *qm = NULL;
    ls_imatrix *imatrix = NULL;
    ls_ppl_compare cmp;
    memset(&cmp, 0, sizeof cmp);
    bool have_cmp = false;
    cJSON *frontier = NULL;
    ls_quality_result quality; /* --kld */
    memset(&quality, 0, sizeof quality);
    int status = 2;
    const char *path;
    ls_settings settings;
    int threads = o->threads > 0 ? o->threads : ls_cpu_count();
    char blas_note[256], demo[4096];
    if (ls_blas_check(blas_note, sizeof blas_note))
        fprintf(errf, "layerscope: warning: %s\n", blas_note);
    if (check_paths(o, &err) < 0) /* before hours of work, not after */
        goto out;
    if (resolve_session(o, &sess, &path, &settings, &err) < 0)
        goto out;
    if (!path)
        path = demo_path(demo, sizeof demo);
    bool is_demo = ls_is_sample_demo(path);
    if (!path) {
        ls_fail(&err, "--batch needs a MODEL or PROFILE (see --help); the demo of samples/ "
                      "is missing");
        goto out;
    }
    if (ls_source_open(path, &so, &model, &p, &err) < 0)
        goto out;
    uint64_t fingerprint = model ? ls_model_fingerprint(model) : ls_profile_fingerprint(p);
    if (model && ls_kurtosis_model(model, threads, NULL, p, &err) < 0)
        goto out;
    if (ls_source_add_metrics(p, &so, &err) < 0)
        goto out;
    if (o->measure_sensitivity) {
        if (!model) {
            ls_fail(&err, "%s: --sensitivity needs a model with weights, not a profile", path);
            goto out;
        }
        if (ls_batch_sensitivity(o, model, is_demo, p, threads, errf, &err) < 0)
            goto out;
    }
    if (o->measure) {
        if (!model) {
            ls_fail(&err, "%s: --measure needs a model with weights, not a profile", path);
            goto out;
        }
        if (ls_batch_measure(o, model, is_demo, settings.base, p, threads, errf, &err) < 0)
            goto out;
    }
    if (o->imatrix_path) {
        if (ls_source_add_imatrix(p, model, o->imatrix_path, &imatrix, &err) < 0)
            goto out;
        if (model && ls_imatrix_error_model(model, imatrix, settings.base, !o->no_quant_meta,
                                            threads, NULL, p, &err) < 0)
            goto out;
    }
    if (o->measure_fnorm) {
        if (!model) {
            ls_fail(&err, "%s: --fnorm needs a model with weights, not a profile", path);
            goto out;
        }
        if (!o->metrics_out && o->settings.method != LS_METHOD_MXQ && !o->frontier) {
            ls_fail(&err, "--fnorm: nothing uses it (add --export-metrics-csv FILE, "
                          "--method mxq or --frontier)");
            goto out;
        }
        if (ls_fnorm_model(model, threads, NULL, p, &err) < 0)
            goto out;
    }
    if (o->session) {
        bool changed;
        ls_session_apply_metrics(&sess, p, fingerprint, &changed);
        if (changed)
            ls_profile_warn(p, "%s: the model changed since the session was saved (other "
                               "shapes or header): its stored metrics are not used", o->session);
    }
    for (int i = 0; i < p->n_warnings; i++)
        fprintf(errf, "layerscope: warning: %s\n", p->warnings[i]);
    size_t n_flags = (size_t)p->n_layers * LS_N_MODULES;
    if (o->manual_path || (sess.manual && sess.n_layers == p->n_layers)) {
        manual = calloc(n_flags, 1);
        if (!manual) {
            ls_fail(&err, "out of memory");
            goto out;
        }
        if (o->manual_path) {
            if (ls_manual_read(o->manual_path, p->n_layers, manual, &err) < 0)
                goto out;
        } else {
            memcpy(manual, sess.manual, n_flags);
        }
    }
    a = malloc(sizeof *a);
    if (!a) {
        ls_fail(&err, "out of memory");
        goto out;
    }
    if (ls_analyze(p, &settings, manual, a, &err) < 0)
        goto out;
    if (o->quantize) {
        if (!model) {
            ls_fail(&err, "%s: --quantize needs a model with weights, not a profile", path);
            goto out;
        }
        qm = ls_qmodel_new(p->n_layers, !o->no_quant_meta, &err);
        if (!qm || ls_qmodel_quantize(qm, model, a->cfg, threads, NULL, &err) < 0)
            goto out;
        if (o->save_quantized &&
            ls_qmodel_save(o->save_quantized, qm, model, p, a, &err) < 0)
            goto out;
    }
    print_header(out, p, a);
    print_table(out, p, a);
    print_memory(out, p, a);
    print_agreement(out, p, a, o->agreement_top);
    if (qm)
        print_quantization(out, qm);
    if (o->perplexity || o->load_quantized) {
        if (!model) {
            ls_fail(&err, "%s: --perplexity needs a model with weights, not a profile", path);
            goto out;
        }
        if (o->kld ? ls_batch_quality(o, model, is_demo, a, qm, threads, out, errf, &cmp,
                                      &quality, &err) < 0
                   : ls_batch_perplexity(o, model, is_demo, a, qm, threads, out, errf, &cmp,
                                         &err) < 0)
            goto out;
        have_cmp = true;
    }
    if (o->frontier) {
        if (!model) {
            ls_fail(&err, "%s: --frontier needs a model with weights, not a profile", path);
            goto out;
        }
        if (ls_batch_frontier(o, model, is_demo, p, a, threads, out, errf, &frontier, &err) < 0)
            goto out;
    }
    if (write_outputs(o, p, model, a, qm, have_cmp ? &cmp : NULL,
                      have_cmp && o->kld ? &quality : NULL, manual, frontier, &err) < 0)
        goto out;
    status = 0;
out:
    if (status != 0)
        fail(errf, &err);
    if (have_cmp)
        ls_ppl_compare_free(&cmp);
    cJSON_Delete(frontier);
    ls_quality_result_free(&quality);
    ls_qmodel_free(qm);
    ls_imatrix_free(imatrix);
    free(a);
    free(manual);
    ls_profile_free(p);
    ls_model_free(model);
    ls_session_free(&sess);
    return status;
}

int ls_batch_list_models(const char *dir, FILE *out)
{
    ls_found_list l = {0};
    ls_discover_hf_cache(NULL, &l);
    ls_discover_directory(dir, &l);
    ls_discover_bundled(&l);
    ls_found_list_sort(&l);
    if (l.n == 0)
        fprintf(out, "no models found in the Hugging Face cache or in %s\n", dir ? dir : ".");
    for (size_t i = 0; i < l.n; i++)
        fprintf(out, "%-9s %-11s %-40s %s\n", l.items[i].origin, l.items[i].kind,
                l.items[i].name, l.items[i].path);
    ls_found_list_free(&l);
    return 0;
}
