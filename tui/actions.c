#include "actions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "method/import.h"
#include "io/interop.h"
#include "io/result_json.h"
#include "nn/matmul_bf16.h"
#include "method/mxq.h"
#include "view.h"

typedef unsigned (*action_fn)(app *a, int ch);

static int rows_per_page(const app *a)
{
    int h = view_main_rows(a);
    return h > 1 ? h - 1 : 1;
}

static unsigned select_layer(app *a, int l)
{
    int n = app_n_layers(a);
    if (n == 0)
        return R_NONE;
    a->sel_layer = l < 0 ? 0 : l >= n ? n - 1 : l;
    if (a->screen == SCREEN_HIST)
        app_start_histogram(a);
    return R_REDRAW;
}

static unsigned need_profile(app *a);

/* Moves the selection by delta rows of the list as shown (the filter f hides layers). */
static unsigned step_rows(app *a, int delta)
{
    int vis[LS_MAX_LAYERS];
    int n = view_visible_layers(a, vis);
    if (n == 0)
        return R_REDRAW;
    int pos = view_visible_index(vis, n, a->sel_layer);
    if (vis[pos] != a->sel_layer && delta < 0)
        pos++; /* the selection was hidden: count from the row after it */
    pos += delta;
    return select_layer(a, vis[pos < 0 ? 0 : pos >= n ? n - 1 : pos]);
}

static unsigned act_UP(app *a, int ch) { (void)ch; return step_rows(a, -1); }
static unsigned act_DOWN(app *a, int ch) { (void)ch; return step_rows(a, +1); }
static unsigned act_PGUP(app *a, int ch) { (void)ch; return step_rows(a, -rows_per_page(a)); }
static unsigned act_PGDN(app *a, int ch) { (void)ch; return step_rows(a, +rows_per_page(a)); }
static unsigned act_TOP(app *a, int ch) { (void)ch; return step_rows(a, -LS_MAX_LAYERS); }
static unsigned act_BOTTOM(app *a, int ch) { (void)ch; return step_rows(a, +LS_MAX_LAYERS); }

static unsigned act_FILTER(app *a, int ch)
{
    (void)ch;
    if (need_profile(a))
        return R_REDRAW;
    a->only_outliers = !a->only_outliers;
    if (a->only_outliers) {
        int vis[LS_MAX_LAYERS];
        int n = view_visible_layers(a, vis);
        app_msg(a, false, "only flagged layers: %d of %d in this module (f shows all)", n,
                app_n_layers(a));
        if (n > 0)
            select_layer(a, vis[view_visible_index(vis, n, a->sel_layer)]);
    } else {
        app_msg(a, false, "every layer shown");
    }
    return R_REDRAW;
}

static unsigned act_EXPORT_AS(app *a, int ch)
{
    (void)ch;
    if (need_profile(a) || !a->an_ok)
        return R_REDRAW;
    wg_prompt_open(&a->prompt, PROMPT_EXPORT_AS,
                   "Export (json|llamacpp|kurtosis-csv|metrics-csv) PATH", "json layerscope-result.json");
    return R_REDRAW;
}

static unsigned act_SORT(app *a, int ch)
{
    (void)ch;
    if (need_profile(a))
        return R_REDRAW;
    a->sort_key = (a->sort_key + 1) % SORT_COUNT;
    app_msg(a, false, "layers sorted %s%s (v cycles: layer, metric, |z|)",
            view_sort_name(a->sort_key), a->sort_key == SORT_LAYER ? "" : ", largest first");
    return R_REDRAW;
}

/* The sensitivity file and selection in use, from the profile's "PATH (DATASET bNgM)". */
static bool sensi_in_use(const app *a, char *path, size_t cap, ls_sensi_choice *cur)
{
    const char *src = a->profile ? a->profile->sensitivity_source : "";
    const char *paren = strrchr(src, '(');
    if (!paren || paren == src || paren[-1] != ' ' || (size_t)(paren - src) >= cap)
        return false;
    memcpy(path, src, (size_t)(paren - 1 - src));
    path[paren - 1 - src] = '\0';
    char ds[64];
    if (sscanf(paren, "(%63s b%dg%d)", ds, &cur->nbits, &cur->group_size) != 3)
        return false;
    snprintf(cur->dataset, sizeof cur->dataset, "%s", ds);
    return ls_csv_kind_of(path) == LS_CSV_SENSITIVITY;
}

/* D / C: the next data set at the same config, or the next config of the same data set,
 * re-imported from the same sensitivity file. */
static unsigned switch_sensitivity(app *a, bool dataset)
{
    if (need_profile(a))
        return R_REDRAW;
    char path[256];
    ls_sensi_choice cur, ch[LS_SENSI_MAX_CHOICES];
    if (!sensi_in_use(a, path, sizeof path, &cur)) {
        app_msg(a, true, "the sensitivity does not come from a toolkit sensitivity CSV: "
                         "nothing to switch");
        return R_REDRAW;
    }
    ls_error err;
    int n = ls_sensitivity_choices(path, ch, LS_SENSI_MAX_CHOICES, &err);
    if (n < 0) {
        app_msg(a, true, "%s", err.msg);
        return R_REDRAW;
    }
    int at = -1;
    for (int i = 0; i < n; i++)
        if (strcmp(ch[i].dataset, cur.dataset) == 0 && ch[i].nbits == cur.nbits &&
            ch[i].group_size == cur.group_size)
            at = i;
    int next = -1;
    for (int k = 1; k <= n && next < 0; k++) {
        const ls_sensi_choice *c = &ch[((at < 0 ? 0 : at) + k) % n];
        bool same_ds = strcmp(c->dataset, cur.dataset) == 0;
        bool same_cfg = c->nbits == cur.nbits && c->group_size == cur.group_size;
        if (dataset ? (same_cfg && !same_ds) : (same_ds && !same_cfg))
            next = (int)(c - ch);
    }
    if (next < 0) {
        app_msg(a, false, "%s has no other %s for %s b%dg%d", path,
                dataset ? "data set" : "config", cur.dataset, cur.nbits, cur.group_size);
        return R_REDRAW;
    }
    ls_sensi_select sel = {ch[next].dataset, ch[next].nbits, ch[next].group_size};
    ls_profile *sp;
    if (ls_import_sensitivity(path, &sel, &sp, &err) < 0) {
        app_msg(a, true, "%s", err.msg);
        return R_REDRAW;
    }
    /* the old selection's warnings go with it */
    ls_profile *p = a->profile;
    int kept = 0;
    for (int i = 0; i < p->n_warnings; i++)
        if (strncmp(p->warnings[i], path, strlen(path)) != 0)
            memmove(p->warnings[kept++], p->warnings[i], sizeof p->warnings[0]);
    p->n_warnings = kept;
    int rc = ls_profile_take_sensitivity(p, sp, &err);
    ls_profile_free(sp);
    if (rc < 0) {
        app_msg(a, true, "%s", err.msg);
        return R_REDRAW;
    }
    app_analyze(a);
    app_msg(a, false, "sensitivity: %s b%dg%d of %s (%s cycles the %s)", sel.dataset,
            sel.nbits, sel.group_size, path, dataset ? "D" : "N",
            dataset ? "data sets" : "configs");
    return R_REDRAW;
}

static unsigned act_SENSI_DATASET(app *a, int ch) { (void)ch; return switch_sensitivity(a, true); }
static unsigned act_SENSI_CONFIG(app *a, int ch) { (void)ch; return switch_sensitivity(a, false); }

static unsigned set_module(app *a, int m)
{
    a->module = (m + LS_N_MODULES) % LS_N_MODULES;
    if (a->screen == SCREEN_HIST)
        app_start_histogram(a);
    return R_REDRAW;
}

static unsigned act_NEXT_MOD(app *a, int ch) { (void)ch; return set_module(a, a->module + 1); }
static unsigned act_PREV_MOD(app *a, int ch) { (void)ch; return set_module(a, a->module - 1); }
static unsigned act_MODULE(app *a, int ch) { return set_module(a, ch - '1'); }

static unsigned act_HEATMAP(app *a, int ch)
{
    (void)ch;
    a->heatmap = !a->heatmap;
    return R_REDRAW;
}

static unsigned act_LOG(app *a, int ch)
{
    (void)ch;
    a->log_scale = !a->log_scale;
    app_msg(a, false, "bar scale: %s", a->log_scale ? "log" : "linear");
    return R_REDRAW;
}

/* Every settings change: record undo, change, re-analyse on this frame. */
#define CHANGE(a) app_push_undo(a)

static unsigned need_profile(app *a)
{
    if (a->profile)
        return 0;
    app_msg(a, true, "nothing open: press o to open a model or profile");
    return 1;
}

static unsigned act_TOPM_UP(app *a, int ch)
{
    (void)ch;
    if (need_profile(a))
        return R_REDRAW;
    if (a->settings.top_m >= app_n_layers(a)) {
        app_msg(a, false, "top-m %d is already the layer count", a->settings.top_m);
        return R_REDRAW;
    }
    CHANGE(a);
    a->settings.top_m++;
    return R_ANALYZE;
}

static unsigned act_TOPM_DOWN(app *a, int ch)
{
    (void)ch;
    if (need_profile(a))
        return R_REDRAW;
    if (a->settings.top_m == 0) {
        app_msg(a, false, "top-m is 0: all outliers are kept");
        return R_REDRAW;
    }
    CHANGE(a);
    a->settings.top_m--;
    return R_ANALYZE;
}

static unsigned step_stop(app *a, int delta)
{
    int v = a->settings.boost_stop + delta;
    if (need_profile(a) || v < 1 || v > LS_N_STOPS - 1) {
        if (a->profile)
            app_msg(a, false, "boost stop stays within 1 .. 11");
        return R_REDRAW;
    }
    CHANGE(a);
    a->settings.boost_stop = v;
    return R_ANALYZE;
}

static unsigned act_STOP_DOWN(app *a, int ch) { (void)ch; return step_stop(a, -1); }
static unsigned act_STOP_UP(app *a, int ch) { (void)ch; return step_stop(a, +1); }

static unsigned step_base(app *a, int delta)
{
    int v = a->settings.base + delta;
    if (need_profile(a) || v < 0 || v >= LS_N_STOPS) {
        if (a->profile)
            app_msg(a, false, "base stays within the 12 stops b2g128 .. b8g32");
        return R_REDRAW;
    }
    CHANGE(a);
    a->settings.base = v;
    return R_ANALYZE;
}

static unsigned act_BASE_DOWN(app *a, int ch) { (void)ch; return step_base(a, -1); }
static unsigned act_BASE_UP(app *a, int ch) { (void)ch; return step_base(a, +1); }

static unsigned act_DIFF(app *a, int ch)
{
    (void)ch;
    if (need_profile(a))
        return R_REDRAW;
    CHANGE(a);
    /* paired (-1) -> subtract -> divide -> paired */
    int m = a->settings.mode;
    a->settings.mode = m < 0 ? LS_DIFF_SUBTRACT : m == LS_DIFF_SUBTRACT ? LS_DIFF_DIVIDE : -1;
    app_msg(a, false, "difference mode: %s", a->settings.mode < 0
                                                  ? "each method's own (the paper's)"
                                                  : ls_diff_mode_name((ls_diff_mode)a->settings.mode));
    return R_ANALYZE;
}

static unsigned act_METHOD(app *a, int ch)
{
    (void)ch;
    if (need_profile(a))
        return R_REDRAW;
    CHANGE(a);
    a->settings.ablation = false; /* ablation is the r key's; a method change ends it */
    app_next_method(a); /* budget methods only when the profile can run them */
    if (a->settings.method == LS_METHOD_MANUAL && !a->has_manual) {
        memcpy(a->manual, a->an->boosted, sizeof a->manual); /* start from the current set */
        a->has_manual = true;
    }
    return R_ANALYZE;
}

static unsigned act_TOGGLE(app *a, int ch)
{
    (void)ch;
    if (need_profile(a) || !a->an_ok)
        return R_REDRAW;
    CHANGE(a);
    if (a->settings.method != LS_METHOD_MANUAL || !a->has_manual) {
        memcpy(a->manual, a->an->boosted, sizeof a->manual); /* hand-tuning starts here */
        a->has_manual = true;
        a->settings.method = LS_METHOD_MANUAL;
        a->settings.ablation = false;
    }
    int i = LS_IDX(a->sel_layer, a->module);
    a->manual[i] = !a->manual[i];
    app_msg(a, false, "manual: layer %d %s %s", a->sel_layer, ls_module_short_name(a->module),
            a->manual[i] ? "boosted" : "not boosted");
    return R_ANALYZE;
}

static unsigned act_DRAW(app *a, int ch)
{
    (void)ch;
    if (need_profile(a))
        return R_REDRAW;
    if (a->settings.method != LS_METHOD_SENSI && a->settings.method != LS_METHOD_KURT) {
        app_msg(a, true, "ablation applies to the sensi or kurt method (press m)");
        return R_REDRAW;
    }
    CHANGE(a);
    if (a->settings.ablation)
        a->settings.seed++;
    a->settings.ablation = true;
    app_msg(a, false, "ablation draw, seed %llu (u undoes; m returns to the method)",
            (unsigned long long)a->settings.seed);
    return R_ANALYZE;
}

static unsigned act_UNDO(app *a, int ch)
{
    (void)ch;
    if (!app_pop_undo(a)) {
        app_msg(a, false, "nothing to undo");
        return R_REDRAW;
    }
    app_msg(a, false, "undone");
    return R_ANALYZE;
}

static unsigned act_EXPORT(app *a, int ch)
{
    (void)ch;
    if (need_profile(a) || !a->an_ok)
        return R_REDRAW;
    char def[1100];
    snprintf(def, sizeof def, "%s-allocation.json", a->profile->name);
    wg_prompt_open(&a->prompt, PROMPT_EXPORT, "Export allocation to", def);
    return R_REDRAW;
}

static unsigned act_HIST(app *a, int ch)
{
    (void)ch;
    if (need_profile(a))
        return R_REDRAW;
    if (!a->model) {
        app_msg(a, true, "histogram needs weights: a profile CSV has none (press o to open a model)");
        return R_REDRAW;
    }
    a->screen = SCREEN_HIST;
    app_start_histogram(a);
    return R_REDRAW;
}

/* The agreement table (tui/view_agree.c): A toggles it, Esc closes it. */
static unsigned act_AGREE(app *a, int ch)
{
    (void)ch;
    if (a->screen == SCREEN_AGREE) {
        a->screen = SCREEN_MAIN;
        return R_REDRAW;
    }
    if (need_profile(a))
        return R_REDRAW;
    a->screen = SCREEN_AGREE;
    return R_REDRAW;
}

static unsigned act_QUANT(app *a, int ch)
{
    (void)ch;
    if (!need_profile(a))
        app_start_quantize(a);
    return R_REDRAW;
}

static unsigned act_SAVE_QUANT(app *a, int ch)
{
    (void)ch;
    if (need_profile(a))
        return R_REDRAW;
    if (!a->q_known || a->qm_busy) {
        app_msg(a, true, a->qm_busy ? "the quantized model is in use by a running job"
                                    : "nothing quantized yet: press Q first");
        return R_REDRAW;
    }
    char def[1100];
    snprintf(def, sizeof def, "%s-%s-hqq", a->profile->name, ls_stop_get(a->settings.base)->name);
    wg_prompt_open(&a->prompt, PROMPT_SAVE_QUANT, "Write the quantized model to directory", def);
    return R_REDRAW;
}

/* P, S and M run on the job inputs' text (I sets it); without one a prompt asks for a file,
 * and the answer becomes the input. */
static unsigned start_or_ask(app *a, int field, int purpose, const char *title,
                             void (*start)(app *, const char *))
{
    if (need_profile(a))
        return R_REDRAW;
    const char *text = field == APP_INPUT_EVAL ? a->inputs.eval : a->inputs.calib;
    char why[256];
    if (!text[0])
        wg_prompt_open(&a->prompt, purpose, title, "");
    else if (app_input_check_text(text, why, sizeof why) < 0)
        app_input_refused(a, field, text, why, "(I sets another)");
    else
        start(a, text);
    return R_REDRAW;
}

static unsigned act_PPL(app *a, int ch)
{
    (void)ch;
    return start_or_ask(a, APP_INPUT_EVAL, PROMPT_PPL_TEXT, "Perplexity text file",
                        app_start_ppl);
}

static unsigned act_SENSI(app *a, int ch)
{
    (void)ch;
    return start_or_ask(a, APP_INPUT_CALIB, PROMPT_SENSI_TEXT,
                        "Calibration text file (one document per line)", app_start_sensi);
}

static unsigned act_MEASURE(app *a, int ch)
{
    (void)ch;
    return start_or_ask(a, APP_INPUT_EVAL, PROMPT_MEASURE_TEXT,
                        "Evaluation text for the measured dKL", app_start_measure);
}

/* A text typed into P's, S's or M's prompt becomes the job input, then the job starts. */
static void accept_text(app *a, int field, const char *path, void (*start)(app *, const char *))
{
    if (app_input_set(a, field, path))
        start(a, field == APP_INPUT_EVAL ? a->inputs.eval : a->inputs.calib);
}

/* The legend (H): opened and closed by H; Esc closes it. */
static unsigned act_LEGEND(app *a, int ch)
{
    (void)ch;
    a->screen = a->screen == SCREEN_LEGEND ? SCREEN_MAIN : SCREEN_LEGEND;
    return R_REDRAW;
}

/* ---- the job inputs screen (I) ---- */

static unsigned act_INPUTS(app *a, int ch)
{
    (void)ch;
    a->screen = a->screen == SCREEN_INPUTS ? SCREEN_MAIN : SCREEN_INPUTS;
    return R_REDRAW;
}

static unsigned act_INPUTS_UP(app *a, int ch)
{
    (void)ch;
    a->inputs_sel = (a->inputs_sel + APP_INPUT_COUNT - 1) % APP_INPUT_COUNT;
    return R_REDRAW;
}

static unsigned act_INPUTS_DOWN(app *a, int ch)
{
    (void)ch;
    a->inputs_sel = (a->inputs_sel + 1) % APP_INPUT_COUNT;
    return R_REDRAW;
}

static unsigned act_INPUTS_EDIT(app *a, int ch)
{
    (void)ch;
    app_input_edit(a, a->inputs_sel);
    return R_REDRAW;
}

static unsigned act_INPUTS_NEXT(app *a, int ch)
{
    (void)ch;
    if (a->inputs_sel == APP_INPUT_PROTOCOL || a->inputs_sel == APP_INPUT_COMPUTE)
        app_input_cycle(a, a->inputs_sel);
    else
        app_msg(a, false, "%s: Enter types a new value", app_input_name(a->inputs_sel));
    return R_REDRAW;
}

static unsigned act_SENSI_CSV(app *a, int ch)
{
    (void)ch;
    if (need_profile(a))
        return R_REDRAW;
    if (!a->sensi) {
        app_msg(a, true, "no measured sensitivity: press S first");
        return R_REDRAW;
    }
    char def[1100];
    snprintf(def, sizeof def, "sensitivity-%s.csv", a->profile->name);
    wg_prompt_open(&a->prompt, PROMPT_SENSI_CSV, "Write the sensitivity CSV to", def);
    return R_REDRAW;
}

static unsigned act_SESSION_SAVE(app *a, int ch)
{
    (void)ch;
    if (need_profile(a))
        return R_REDRAW;
    char def[1100];
    snprintf(def, sizeof def, "%s-session.json", a->profile->name);
    wg_prompt_open(&a->prompt, PROMPT_SAVE_SESSION, "Save session to", def);
    return R_REDRAW;
}

static unsigned act_SESSION_LOAD(app *a, int ch)
{
    (void)ch;
    wg_prompt_open(&a->prompt, PROMPT_LOAD_SESSION, "Load session", "");
    return R_REDRAW;
}

static unsigned act_CANCEL(app *a, int ch)
{
    (void)ch;
    /* the selected row when it is a running or queued job, else the first active one */
    int active[APP_MAX_JOBS], n_active = 0;
    for (int i = 0; i < a->n_jobs; i++)
        if (a->job[i].state <= LS_JOB_RUNNING)
            active[n_active++] = i;
    if (n_active > 0) {
        int k = active[a->job_sel < n_active ? a->job_sel : 0];
        ls_jobs_cancel(a->jobs, a->job[k].id);
        app_msg(a, false, "cancelling %s", a->job[k].name);
        return R_REDRAW;
    }
    app_msg(a, false, "no job to cancel");
    return R_REDRAW;
}

static unsigned act_JOB_NEXT(app *a, int ch)
{
    (void)ch;
    int n = app_job_rows(a);
    if (n > 0)
        a->job_sel = (a->job_sel + 1) % n;
    return R_REDRAW;
}

static unsigned act_OPEN(app *a, int ch)
{
    (void)ch;
    app_open_picker(a);
    return R_REDRAW;
}

/* P's sequential stop (--precision): off, 0.2, 0.1, 0.05. */
static unsigned act_PRECISION(app *a, int ch)
{
    (void)ch;
    static const double steps[] = {0, 0.2, 0.1, 0.05};
    int n = (int)(sizeof steps / sizeof steps[0]), k = 0;
    while (k < n && steps[k] != a->precision)
        k++;
    a->precision = steps[(k + 1) % n];
    if (a->precision > 0)
        app_msg(a, false, "P stops when the KLD change against base is known to +/- %.0f %% "
                          "(95 %%)", 100.0 * a->precision);
    else
        app_msg(a, false, "P evaluates the whole text (no sequential stop)");
    return R_REDRAW;
}

static unsigned act_THEME(app *a, int ch)
{
    (void)ch;
    a->theme = (wg_theme)((a->theme + 1) % WG_N_THEMES);
    view_apply_theme(a);
    app_msg(a, false, "theme: %s", wg_theme_name(a->style.theme));
    return R_REDRAW;
}

static unsigned act_COMPUTE(app *a, int ch)
{
    (void)ch;
    int c = a->inputs.compute == LS_COMPUTE_BF16 ? LS_COMPUTE_F32 : LS_COMPUTE_BF16;
    app_input_set(a, APP_INPUT_COMPUTE, ls_compute_name((ls_compute)c));
    char why[160];
    if (c == LS_COMPUTE_BF16 && !ls_bf16_supported(why, sizeof why))
        app_msg(a, false, "compute for P, S, M and F: bf16 asked, but %s: they will run in f32",
                why);
    else
        app_msg(a, false, "compute for P, S, M and F: %s%s", ls_compute_name((ls_compute)c),
                c == LS_COMPUTE_BF16 ? " (oneDNN; f32 is the reference)" : "");
    return R_REDRAW;
}

static unsigned act_HELP(app *a, int ch)
{
    (void)ch;
    a->screen = a->screen == SCREEN_HELP ? SCREEN_MAIN : SCREEN_HELP;
    a->help_scroll = 0;
    return R_REDRAW;
}

static unsigned act_REDRAW(app *a, int ch)
{
    (void)a;
    (void)ch;
    clearok(curscr, TRUE);
    return R_REDRAW;
}

static unsigned act_QUIT(app *a, int ch)
{
    (void)ch;
    if (ls_jobs_active(a->jobs) > 0) {
        a->confirm_quit = true;
        return R_REDRAW;
    }
    return R_QUIT;
}

static unsigned act_MOUSE(app *a, int ch)
{
    (void)ch;
    MEVENT ev;
    if (getmouse(&ev) != OK)
        return R_NONE;
    int button = (ev.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON1_RELEASED)) ? 1
#ifdef BUTTON5_PRESSED
                 : (ev.bstate & BUTTON5_PRESSED) ? 5
#endif
                 : (ev.bstate & BUTTON4_PRESSED) ? 4
                                                 : 0;
    return actions_click(a, ev.y, ev.x, button);
}

static unsigned act_DETECT(app *a, int ch)
{
    (void)ch;
    if (need_profile(a) || !a->an_ok)
        return R_REDRAW;
    a->screen = SCREEN_DETECT;
    return R_REDRAW;
}

static unsigned act_DETECT_CLOSE(app *a, int ch)
{
    (void)ch;
    a->screen = SCREEN_MAIN;
    return R_REDRAW;
}

static unsigned act_RESET(app *a, int ch)
{
    (void)ch;
    if (need_profile(a))
        return R_REDRAW;
    CHANGE(a);
    a->settings = ls_settings_default();
    a->settings_restored = false;
    app_msg(a, false, "settings reset to the paper's defaults (u undoes)");
    return R_ANALYZE;
}

static unsigned act_REDO(app *a, int ch)
{
    (void)ch;
    if (!app_redo(a)) {
        app_msg(a, false, "nothing to redo");
        return R_REDRAW;
    }
    app_msg(a, false, "redone");
    return R_ANALYZE;
}

static unsigned act_JUMP(app *a, int ch)
{
    (void)ch;
    if (need_profile(a))
        return R_REDRAW;
    char title[64];
    snprintf(title, sizeof title, "Jump to layer (0 .. %d)", app_n_layers(a) - 1);
    wg_prompt_open(&a->prompt, PROMPT_JUMP, title, "");
    return R_REDRAW;
}

static unsigned accept_jump(app *a, const char *text)
{
    char *end;
    long l = strtol(text, &end, 10);
    while (*end == ' ')
        end++;
    if (end == text || *end || l < 0 || l >= app_n_layers(a)) {
        app_msg(a, true, "jump: '%s' is not a layer number (0 .. %d)", text, app_n_layers(a) - 1);
        return R_REDRAW;
    }
    return select_layer(a, (int)l);
}

/* ---- the boosted list screen (L) ---- */

static int n_boosted(const app *a)
{
    return a->an_ok ? a->an->n_boosted : 0;
}

static unsigned act_SETS(app *a, int ch)
{
    (void)ch;
    if (need_profile(a) || !a->an_ok)
        return R_REDRAW;
    a->screen = SCREEN_SETS;
    a->sets_sel = 0;
    return R_REDRAW;
}

static unsigned act_SETS_UP(app *a, int ch)
{
    (void)ch;
    if (a->sets_sel > 0)
        a->sets_sel--;
    return R_REDRAW;
}

static unsigned act_SETS_DOWN(app *a, int ch)
{
    (void)ch;
    if (a->sets_sel + 1 < n_boosted(a))
        a->sets_sel++;
    return R_REDRAW;
}

static unsigned act_SETS_GO(app *a, int ch)
{
    (void)ch;
    int k = 0, n = app_n_layers(a) * LS_N_MODULES;
    for (int i = 0; a->an_ok && i < n; i++)
        if (a->an->boosted[i] && k++ == a->sets_sel) {
            a->screen = SCREEN_MAIN;
            a->module = i % LS_N_MODULES;
            return select_layer(a, i / LS_N_MODULES);
        }
    a->screen = SCREEN_MAIN;
    return R_REDRAW;
}

static unsigned act_SETS_CLOSE(app *a, int ch)
{
    (void)ch;
    a->screen = SCREEN_MAIN;
    return R_REDRAW;
}

static unsigned act_KURT_SCALE(app *a, int ch)
{
    (void)ch;
    a->kurt_scale = (a->kurt_scale + 1) % KSCALE_COUNT;
    app_msg(a, false, "kurtosis bars: %s scale (':' marks 3, the normal value)",
            view_kurt_scale_name(a->kurt_scale));
    return R_REDRAW;
}

static unsigned act_FOOTER_MORE(app *a, int ch)
{
    (void)ch;
    if (a->n_footer_pages > 1)
        a->footer_page = (a->footer_page + 1) % a->n_footer_pages;
    else
        app_msg(a, false, "every key hint is shown (? lists all keys)");
    return R_REDRAW;
}

/* ---- the histogram screen (other keys act as on the main screen) ---- */

static unsigned act_HIST_CLOSE(app *a, int ch)
{
    (void)ch;
    a->screen = SCREEN_MAIN;
    return R_REDRAW;
}

/* ---- the help screen: scrolling; any other key closes it ---- */

static unsigned help_scroll(app *a, int lines)
{
    a->help_scroll += lines;
    if (a->help_scroll < 0)
        a->help_scroll = 0; /* the upper bound is the view's: it knows the line count */
    return R_REDRAW;
}

static int help_page(const app *a) { return a->layout.rows > 4 ? a->layout.rows - 4 : 1; }

static unsigned act_HELP_UP(app *a, int ch) { (void)ch; return help_scroll(a, -1); }
static unsigned act_HELP_DOWN(app *a, int ch) { (void)ch; return help_scroll(a, +1); }
static unsigned act_HELP_PGUP(app *a, int ch) { (void)ch; return help_scroll(a, -help_page(a)); }
static unsigned act_HELP_PGDN(app *a, int ch) { (void)ch; return help_scroll(a, help_page(a)); }

static unsigned act_HELP_CLOSE(app *a, int ch)
{
    (void)ch;
    a->screen = SCREEN_MAIN;
    return help_scroll(a, 0);
}

/* ---- the quit confirmation (jobs are running) ---- */

static unsigned act_QUIT_YES(app *a, int ch)
{
    (void)ch;
    a->confirm_quit = false;
    return R_QUIT;
}

static unsigned act_QUIT_NO(app *a, int ch)
{
    (void)ch;
    a->confirm_quit = false;
    app_msg(a, false, "quit cancelled");
    return R_REDRAW;
}

/* ---- the model picker of the open prompt ---- */

static unsigned pick(app *a, wg_picker_op op)
{
    app_picker_move(a, op, rows_per_page(a));
    return R_REDRAW;
}

static unsigned act_PICK_UP(app *a, int ch) { (void)ch; return pick(a, WG_PICK_UP); }
static unsigned act_PICK_DOWN(app *a, int ch) { (void)ch; return pick(a, WG_PICK_DOWN); }
static unsigned act_PICK_PGUP(app *a, int ch) { (void)ch; return pick(a, WG_PICK_PGUP); }
static unsigned act_PICK_PGDN(app *a, int ch) { (void)ch; return pick(a, WG_PICK_PGDN); }

/* ---- prompt editing ---- */

static unsigned prompt_accept(app *a);

static unsigned act_PROMPT_ACCEPT(app *a, int ch)
{
    (void)ch;
    a->prompt.active = false;
    a->picker.active = false;
    return prompt_accept(a);
}

static unsigned act_PROMPT_CANCEL(app *a, int ch)
{
    (void)ch;
    a->prompt.active = false;
    a->picker.active = false;
    return R_REDRAW;
}

static unsigned edit(app *a, wg_prompt_op op, int ch)
{
    wg_prompt_edit(&a->prompt, op, ch);
    return R_REDRAW;
}

static unsigned act_PROMPT_LEFT(app *a, int ch) { return edit(a, WG_PROMPT_LEFT, ch); }
static unsigned act_PROMPT_RIGHT(app *a, int ch) { return edit(a, WG_PROMPT_RIGHT, ch); }
static unsigned act_PROMPT_HOME(app *a, int ch) { return edit(a, WG_PROMPT_HOME, ch); }
static unsigned act_PROMPT_END(app *a, int ch) { return edit(a, WG_PROMPT_END, ch); }
static unsigned act_PROMPT_BACKSPACE(app *a, int ch) { return edit(a, WG_PROMPT_BACKSPACE, ch); }
static unsigned act_PROMPT_DELETE(app *a, int ch) { return edit(a, WG_PROMPT_DELETE, ch); }
static unsigned act_PROMPT_CLEAR(app *a, int ch) { return edit(a, WG_PROMPT_CLEAR, ch); }
static unsigned act_PROMPT_TYPE(app *a, int ch) { return edit(a, WG_PROMPT_TYPE, ch); }

static unsigned act_TARGET(app *a, int ch)
{
    (void)ch;
    if (need_profile(a))
        return R_REDRAW;
    char def[64] = "";
    if (a->settings.target_kind == LS_TARGET_BPP)
        snprintf(def, sizeof def, "%g", a->settings.target);
    else if (a->settings.target_kind == LS_TARGET_MIB)
        snprintf(def, sizeof def, "%gM", a->settings.target);
    else if (a->settings.target_kind == LS_TARGET_EXTRA)
        snprintf(def, sizeof def, "%+g%%", a->settings.target);
    wg_prompt_open(&a->prompt, PROMPT_TARGET,
                   "Budget target (3.3 = bpp, 2500M = MiB, +5% = over the base)", def);
    return R_REDRAW;
}

static unsigned act_TARGET_DOWN(app *a, int ch)
{
    (void)ch;
    if (need_profile(a))
        return R_REDRAW;
    app_step_target(a, -1);
    return R_REDRAW;
}

static unsigned act_TARGET_UP(app *a, int ch)
{
    (void)ch;
    if (need_profile(a))
        return R_REDRAW;
    app_step_target(a, +1);
    return R_REDRAW;
}

static unsigned act_FRONTIER(app *a, int ch)
{
    (void)ch;
    if (a->screen == SCREEN_FRONTIER) {
        a->screen = SCREEN_MAIN;
        return R_REDRAW;
    }
    if (need_profile(a))
        return R_REDRAW;
    app_start_frontier(a);
    return R_REDRAW;
}

static const action_fn handlers[ACT_COUNT] = {
#define ACT_FN(n) [ACT_##n] = act_##n,
    LS_ACTIONS(ACT_FN)
#undef ACT_FN
};

unsigned actions_click(app *a, int y, int x, int button)
{
    /* the footer: a click on a key hint is that key */
    if (button == 1 && !a->layout.too_small && y == a->layout.status.y && !a->prompt.active)
        for (int i = 0; i < a->n_footer_hit; i++)
            if (x >= a->footer_hit[i].x0 && x < a->footer_hit[i].x1)
                return actions_key(a, a->footer_hit[i].code);
    if (a->screen != SCREEN_MAIN || !a->profile)
        return R_NONE;
    /* the module tabs above the layer list */
    if (button == 1 && y == a->layout.main.y)
        for (int m = 0; m < LS_N_MODULES; m++)
            if (x >= a->tab_x[m] && x < a->tab_x[m + 1])
                return set_module(a, m);
    if (button == 4)
        return select_layer(a, a->sel_layer - 3);
    if (button == 5)
        return select_layer(a, a->sel_layer + 3);
    int l = view_layer_at(a, y, x);
    if (button == 1 && l >= 0)
        return select_layer(a, l);
    return R_NONE;
}

static unsigned accept_open(app *a, const char *path)
{
    ls_error err;
    if (app_open(a, path, &err) < 0) {
        if (!a->profile)
            snprintf(a->load_error, sizeof a->load_error, "%s", err.msg);
        app_msg(a, true, "cannot open: %s", err.msg);
    } else {
        app_msg(a, false, "opened %s", path);
    }
    return R_REDRAW;
}

static unsigned accept_export(app *a, const char *path)
{
    ls_error err;
    cJSON *doc = ls_export_json(a->profile, a->an);
    int rc = doc ? ls_json_write_file(path, doc, &err) : ls_fail(&err, "out of memory");
    cJSON_Delete(doc);
    if (rc < 0)
        app_msg(a, true, "export failed: %s", err.msg);
    else
        app_msg(a, false, "exported %d boosted of %d matrices to %s", a->an->n_boosted,
                a->an->n_layers * LS_N_MODULES, path);
    return R_REDRAW;
}

/* X: "KIND PATH" through the writers batch mode's --json / --export-llamacpp /
 * --export-kurtosis-csv / --export-metrics-csv use. */
static unsigned accept_export_as(app *a, const char *line)
{
    char kind[32];
    int used = 0;
    if (sscanf(line, "%31s %n", kind, &used) != 1 || !line[used]) {
        app_msg(a, true, "export: type KIND PATH (json, llamacpp, kurtosis-csv, metrics-csv)");
        return R_REDRAW;
    }
    const char *path = line + used;
    ls_error err;
    int rc;
    if (strcmp(kind, "json") == 0) {
        cJSON *doc = ls_result_json(a->profile, a->an);
        if (doc && a->qm)
            ls_result_json_add_quantization(doc, a->qm);
        rc = doc ? ls_json_write_file(path, doc, &err) : ls_fail(&err, "out of memory");
        cJSON_Delete(doc);
    } else if (strcmp(kind, "llamacpp") == 0) {
        rc = ls_write_llamacpp_overrides(path, a->profile, a->an, &err);
    } else if (strcmp(kind, "kurtosis-csv") == 0) {
        rc = ls_write_kurtosis_csv(path, a->profile, &err);
    } else if (strcmp(kind, "metrics-csv") == 0) {
        rc = ls_write_metrics_csv(path, a->profile, &err);
    } else {
        app_msg(a, true, "export: unknown kind \"%s\" (json, llamacpp, kurtosis-csv, metrics-csv)",
                kind);
        return R_REDRAW;
    }
    if (rc < 0)
        app_msg(a, true, "export failed: %s", err.msg);
    else
        app_msg(a, false, "exported %s to %s", kind, path);
    return R_REDRAW;
}

static unsigned prompt_accept(app *a)
{
    const char *path = a->prompt.buf;
    if (!*path)
        return R_REDRAW;
    switch (a->prompt.purpose) {
    case PROMPT_OPEN: return accept_open(a, path);
    case PROMPT_EXPORT: return a->an_ok ? accept_export(a, path) : R_REDRAW;
    case PROMPT_EXPORT_AS: return a->an_ok ? accept_export_as(a, path) : R_REDRAW;
    case PROMPT_SAVE_QUANT: app_start_save_quant(a, path); break;
    case PROMPT_SAVE_SESSION: app_save_session(a, path); break;
    case PROMPT_LOAD_SESSION: app_load_session(a, path); break;
    case PROMPT_PPL_TEXT: accept_text(a, APP_INPUT_EVAL, path, app_start_ppl); break;
    case PROMPT_SENSI_TEXT: accept_text(a, APP_INPUT_CALIB, path, app_start_sensi); break;
    case PROMPT_MEASURE_TEXT: accept_text(a, APP_INPUT_EVAL, path, app_start_measure); break;
    case PROMPT_INPUT: app_input_set(a, a->inputs_sel, path); break;
    case PROMPT_SENSI_CSV: app_save_sensi_csv(a, path); break;
    case PROMPT_JUMP: return accept_jump(a, path);
    case PROMPT_TARGET: app_set_target(a, path); break;
    }
    return R_REDRAW;
}

/* The mode the next key is read in: the prompt (with the picker on top when it has models)
 * and the quit question take every key; then the screen shown. */
static ls_key_context key_context(const app *a)
{
    if (a->prompt.active)
        return a->prompt.purpose == PROMPT_OPEN && a->picker.active && a->picker.n > 0
                   ? CTX_PICKER
                   : CTX_PROMPT;
    if (a->confirm_quit)
        return CTX_CONFIRM;
    if (a->screen == SCREEN_SETS)
        return CTX_SETS;
    if (a->screen == SCREEN_DETECT)
        return CTX_DETECT;
    if (a->screen == SCREEN_INPUTS)
        return CTX_INPUTS;
    if (a->screen == SCREEN_LEGEND)
        return CTX_LEGEND;
    return a->screen == SCREEN_HELP       ? CTX_HELP
           : a->screen == SCREEN_HIST     ? CTX_HIST
           : a->screen == SCREEN_FRONTIER ? CTX_FRONTIER
           : a->screen == SCREEN_AGREE    ? CTX_AGREE
                                          : CTX_MAIN;
}

unsigned actions_key(app *a, int ch)
{
    if (ch == KEY_RESIZE) /* a terminal event, not a key: only redraw */
        return R_REDRAW;
    ls_key_context ctx = key_context(a);
    if (ctx != CTX_PROMPT && ctx != CTX_PICKER)
        a->msg[0] = '\0'; /* a key outside the prompt ends the last message */
    const ls_key *k = ls_key_find(ctx, ch);
    if (!k) {
        if (ch >= 32 && ch < 127)
            app_msg(a, false, "key '%c' does nothing: ? lists the keys", ch);
        return R_REDRAW;
    }
    return handlers[k->action](a, ch);
}
