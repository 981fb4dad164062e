/* The header and the main panel: per-layer bars of one module type, or the heatmap. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bar.h"
#include "method/explain.h"
#include "view.h"

#define LIST_TOP 2 /* tab strip and column header above the layer rows */

static const char *method_title(const ls_settings *s)
{
    switch (s->method) {
    case LS_METHOD_SENSI: return s->ablation ? "SensiBoost ablation" : "SensiBoost";
    case LS_METHOD_KURT: return s->ablation ? "KurtBoost ablation" : "KurtBoost";
    case LS_METHOD_BOTH: return "SensiBoost+KurtBoost";
    case LS_METHOD_MXQ: return "MXQ, exact";
    case LS_METHOD_SENSI_MILP: return "SensiMiLP, exact";
    case LS_METHOD_KURT_MILP: return "KurtMiLP, exact";
    default: return "hand-tuned";
    }
}

static void fmt_count(char *buf, size_t cap, double v)
{
    if (v >= 1e9)
        snprintf(buf, cap, "%.2fB", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, cap, "%.2fM", v / 1e6);
    else if (v >= 1e3)
        snprintf(buf, cap, "%.1fK", v / 1e3);
    else
        snprintf(buf, cap, "%.0f", v);
}

void view_header(app *a, wg_rect r)
{
    attr_t h = wg_attr(&a->style, WG_HEADER);
    wg_clear_rect(stdscr, r, h);
    if (!a->profile) {
        wg_putf(stdscr, r.y, r.x, r.w, h, " layerscope  (nothing open: press o to open a "
                                          "model or profile)");
        return;
    }
    const ls_profile *p = a->profile;
    const ls_settings *s = &a->settings;
    char params[32] = "?";
    if (a->an_ok && a->an->memory_known)
        fmt_count(params, sizeof params, (double)a->an->mem.params_linear);
    wg_putf(stdscr, r.y, r.x, r.w, h, " %s (%s)  %d layers  %s linear params  base %s%s",
            p->name, p->source, p->n_layers, params, ls_stop_get(s->base)->name,
            a->kurt_pending ? "  [computing kurtosis]" : "");
    const char *mode = ls_settings_mode_label(s);
    char extra[64] = "";
    if (s->ablation)
        snprintf(extra, sizeof extra, "  seed %llu", (unsigned long long)s->seed);
    int boosted = a->an_ok ? a->an->n_boosted : 0;
    if (ls_method_is_budget(s->method)) { /* a budget method: its target, no boost stop */
        static const char *const unit[] = {"", "bpp", "MiB", "% over the base"};
        int k = s->target_kind >= 0 && s->target_kind <= 3 ? s->target_kind : 0;
        wg_putf(stdscr, r.y + 1, r.x, r.w, h,
                " method %s (%s)  target %g %s  changed %d%s", ls_method_name(s->method),
                method_title(s), s->target, unit[k], boosted,
                a->an_ok && a->an->budget ? "" : "  [no allocation: see the status line]");
        return;
    }
    wg_putf(stdscr, r.y + 1, r.x, r.w, h,
            " method %s (%s)  mode %s  top-m %d%s  stop %d: %s -> %s  boosted %d%s",
            ls_method_name(s->method), method_title(s), mode ? mode : "-", s->top_m,
            s->top_m == 0 ? " (all)" : "", s->boost_stop, ls_stop_get(s->base)->name,
            ls_stop_get(ls_boost_target(s->base, s->boost_stop))->name, boosted, extra);
}

int view_main_rows(const app *a)
{
    int h = a->layout.main.h - LIST_TOP;
    return h > 0 ? h : 0;
}

/* Keeps the selected layer visible. */
static void scroll_to_selection(app *a)
{
    int rows = view_main_rows(a), n = app_n_layers(a);
    if (a->sel_layer < a->scroll)
        a->scroll = a->sel_layer;
    if (rows > 0 && a->sel_layer >= a->scroll + rows)
        a->scroll = a->sel_layer - rows + 1;
    if (a->scroll > n - rows)
        a->scroll = n - rows;
    if (a->scroll < 0)
        a->scroll = 0;
}

int view_layer_at(const app *a, int y, int x)
{
    wg_rect r = a->layout.main;
    if (a->layout.too_small || !wg_rect_contains(r, y, x) || y < r.y + LIST_TOP)
        return -1;
    int l = a->scroll + (y - r.y - LIST_TOP);
    return l < app_n_layers(a) ? l : -1;
}

/* Bar length for v within one module's series: linear v/max, or log between the smallest
 * positive value and the max. */
typedef struct scale {
    bool log;
    double lo, hi; /* smallest positive, largest finite */
} scale;

static scale scale_of(const app *a, const double *metric, int module)
{
    scale s = {a->log_scale, INFINITY, 0};
    for (int l = 0; l < app_n_layers(a); l++) {
        double v = metric[LS_IDX(l, module)];
        if (!isfinite(v))
            continue;
        if (v > s.hi)
            s.hi = v;
        if (v > 0 && v < s.lo)
            s.lo = v;
    }
    return s;
}

static double scale_frac(const scale *s, double v)
{
    if (!isfinite(v) || v <= 0 || !(s->hi > 0))
        return 0;
    if (!s->log)
        return v / s->hi;
    if (!(s->hi > s->lo))
        return 1;
    /* the smallest value keeps a sliver so it stays visible */
    return 0.02 + 0.98 * (log10(v) - log10(s->lo)) / (log10(s->hi) - log10(s->lo));
}

static void tab_strip(app *a, wg_rect r, const char *right)
{
    int x = r.x + 1;
    for (int m = 0; m < LS_N_MODULES; m++) {
        attr_t at = m == a->module ? wg_attr(&a->style, WG_SELECTION) | A_BOLD
                                   : wg_attr(&a->style, WG_DEFAULT);
        x += wg_putf(stdscr, r.y, x, r.x + r.w - x, at, " %d %s ", m + 1,
                     ls_module_short_name(m));
    }
    int rw = wg_text_width(right);
    if (r.x + r.w - rw - 1 > x)
        wg_put(stdscr, r.y, r.x + r.w - rw - 1, rw, wg_attr(&a->style, WG_DIM), right);
}

/* How a metric's bar of (layer, module) is drawn: outlier (kept), dropped by top-m, or
 * plain. Only the metrics the method uses are highlighted. */
static wg_role bar_role(const app *a, const ls_detection *d, bool used, int layer,
                        wg_bar_kind *kind)
{
    *kind = WG_BAR_NORMAL;
    if (!used || layer == 0 || !a->an_ok || a->settings.ablation)
        return WG_BAR;
    if (d->selected[layer]) {
        *kind = WG_BAR_OUTLIER;
        return WG_OUTLIER;
    }
    return d->outlier[layer] ? WG_THRESHOLD : WG_BAR;
}

static void draw_metric(app *a, int y, int x, int vw, int bw, double v, const scale *sc,
                        const ls_detection *d, bool used, int layer, bool pending, attr_t text)
{
    char val[32];
    if (pending && isnan(v))
        snprintf(val, sizeof val, "...");
    else
        ls_fmt_value(val, sizeof val, v);
    int w = wg_text_width(val);
    wg_put(stdscr, y, x + (vw > w ? vw - w : 0), vw, text, val);
    wg_bar_kind kind;
    wg_role role = bar_role(a, d, used, layer, &kind);
    wg_bar_draw(stdscr, &a->style, y, x + vw + 1, bw, scale_frac(sc, v), kind, role);
}

/* The HQQ error of a quantized module; "~" and a dim bar once its config has changed. */
static void draw_qerr(app *a, int y, int x, int vw, int bw, int i, const scale *sc,
                      attr_t text)
{
    double v = a->q_err[i];
    char val[32] = "-";
    if (a->q_stop[i] >= 0)
        ls_fmt_value(val, sizeof val, v);
    int w = wg_text_width(val);
    wg_put(stdscr, y, x + (vw > w ? vw - w : 0), vw, text, val);
    bool stale = app_q_stale(a, i);
    if (stale)
        wg_put(stdscr, y, x + vw, 1, wg_attr(&a->style, WG_THRESHOLD), "~");
    wg_bar_draw(stdscr, &a->style, y, x + vw + 1, bw, scale_frac(sc, v), WG_BAR_NORMAL,
                stale ? WG_DIM : WG_BAR);
}

/* P's per-layer error of the current allocation: relative L2 and cosine of the hidden
 * state after the layer against fp, the bar scaled to the largest relative L2. */
static void draw_layer_err(app *a, int y, int x, int w, double rel, double cosine, double max,
                           attr_t text)
{
    int n = wg_putf(stdscr, y, x, w - 1, text, "%.4f %.5f", rel, cosine);
    int bw = w - n - 2;
    if (bw > 2)
        wg_bar_draw(stdscr, &a->style, y, x + n + 1, bw, max > 0 ? rel / max : 0,
                    WG_BAR_NORMAL, WG_BAR);
}

static void draw_bars(app *a, wg_rect r)
{
    const ls_profile *p = a->profile;
    const ls_analysis *an = a->an;
    int m = a->module;
    const ls_settings *s = &a->settings;
    bool use_s = s->method == LS_METHOD_SENSI || s->method == LS_METHOD_BOTH;
    bool use_k = s->method == LS_METHOD_KURT || s->method == LS_METHOD_BOTH;
    char right[64];
    snprintf(right, sizeof right, "%s scale  %s", a->log_scale ? "log" : "lin",
             ls_module_name(m));
    tab_strip(a, r, right);

    /* columns: " nnn* " | value bar | value bar | [HQQ error bar] | [error in] |
     * [measured dKL] | config */
    int cfg_w = 15, vw = 9;
    bool dkl = p->measured_dkl || a->measure_pending; /* the measured dKL column */
    bool lerr = a->layer_err_known;
    int half = (r.w - 6 - cfg_w) / ((a->q_known ? 3 : 2) + (lerr ? 1 : 0) + (dkl ? 1 : 0));
    int bw = half - vw - 2;
    int xs = r.x + 6, xk = xs + half, xq = xk + half, xc = r.x + r.w - cfg_w + 1;
    int xl = xq + (a->q_known ? half : 0);
    int xd = xl + (lerr ? half : 0);
    attr_t title = wg_attr(&a->style, WG_TITLE);
    wg_put(stdscr, r.y + 1, r.x, 6, title, "  lyr");
    wg_putf(stdscr, r.y + 1, xs, half - 1, title, "%s%s",
            p->sensitivity_label[0] ? p->sensitivity_label : "sensitivity",
            use_s ? (s->mode == LS_DIFF_SUBTRACT ? " (subtract)" : " (divide)") : "");
    wg_putf(stdscr, r.y + 1, xk, half - 1, title, "kurtosis%s",
            use_k ? (s->mode == LS_DIFF_DIVIDE ? " (divide)" : " (subtract)") : "");
    if (a->q_known)
        wg_put(stdscr, r.y + 1, xq, half - 1, title, "HQQ error (~ stale)");
    if (lerr)
        wg_put(stdscr, r.y + 1, xl, half - 1, title, "err in: L2 cos (P)");
    if (dkl)
        wg_put(stdscr, r.y + 1, xd, half - 1, title, "measured dKL");
    wg_put(stdscr, r.y + 1, xc, cfg_w - 1, title, "config");
    double lmax = 0;
    for (int l = 0; lerr && l < a->layer_err_n; l++)
        lmax = a->layer_rel[l] > lmax ? a->layer_rel[l] : lmax;

    scale ss = scale_of(a, p->sensitivity, m), sk = scale_of(a, p->kurtosis, m);
    scale sq = scale_of(a, a->q_err, m);
    scale sd = scale_of(a, p->measured_dkl ? p->measured_dkl : p->sensitivity, m);
    int rows = view_main_rows(a);
    for (int row = 0; row < rows; row++) {
        int l = a->scroll + row;
        if (l >= p->n_layers)
            break;
        int y = r.y + LIST_TOP + row;
        int i = LS_IDX(l, m);
        bool sel = l == a->sel_layer;
        bool boosted = a->an_ok && an->boosted[i];
        attr_t text = sel ? wg_attr(&a->style, WG_SELECTION) : wg_attr(&a->style, WG_DEFAULT);
        if (sel)
            wg_blank(stdscr, y, r.x, r.w, text);
        wg_putf(stdscr, y, r.x, 4, text, "%s%3d", sel ? ">" : " ", l);
        wg_put(stdscr, y, r.x + 4, 1,
               boosted ? wg_attr(&a->style, WG_OUTLIER) : text, boosted ? VIEW_MARK_BOOSTED : " ");
        draw_metric(a, y, xs, vw, bw, p->sensitivity[i], &ss, &an->sensi[m], use_s, l, false,
                    text);
        draw_metric(a, y, xk, vw, bw, p->kurtosis[i], &sk, &an->kurt[m], use_k, l,
                    a->kurt_pending, text);
        if (a->q_known)
            draw_qerr(a, y, xq, vw, bw, i, &sq, text);
        if (lerr && l < a->layer_err_n) /* the current allocation's error at the layer's output */
            draw_layer_err(a, y, xl, half, a->layer_rel[l], a->layer_cos[l], lmax, text);
        if (dkl)
            draw_metric(a, y, xd, vw, bw, p->measured_dkl ? p->measured_dkl[i] : NAN, &sd,
                        &an->sensi[m], false, l, a->measure_pending, text);
        const char *base = ls_stop_get(s->base)->name;
        if (boosted)
            wg_putf(stdscr, y, xc, cfg_w - 1, wg_attr(&a->style, WG_OUTLIER), "%s->%s", base,
                    ls_stop_get(an->cfg[i])->name);
        else
            wg_put(stdscr, y, xc, cfg_w - 1, text, base);
    }
}

/* Heatmap: one column per module, shade = the method's metric scaled per module. */
static void draw_heatmap(app *a, wg_rect r)
{
    const ls_profile *p = a->profile;
    const ls_settings *s = &a->settings;
    bool sensi = s->method == LS_METHOD_SENSI && ls_profile_has_sensitivity(p);
    const double *metric = sensi ? p->sensitivity : p->kurtosis;
    char right[64];
    snprintf(right, sizeof right, "heatmap: %s, %s scale",
             sensi ? (p->sensitivity_label[0] ? p->sensitivity_label : "sensitivity")
                   : "kurtosis",
             a->log_scale ? "log" : "lin");
    tab_strip(a, r, right);
    int cell = (r.w - 6) / LS_N_MODULES;
    if (cell > 12)
        cell = 12;
    attr_t title = wg_attr(&a->style, WG_TITLE);
    wg_put(stdscr, r.y + 1, r.x, 6, title, "  lyr");
    for (int m = 0; m < LS_N_MODULES; m++)
        wg_put(stdscr, r.y + 1, r.x + 6 + m * cell, cell - 1, title, ls_module_short_name(m));
    scale sc[LS_N_MODULES];
    for (int m = 0; m < LS_N_MODULES; m++)
        sc[m] = scale_of(a, metric, m);
    int rows = view_main_rows(a);
    for (int row = 0; row < rows; row++) {
        int l = a->scroll + row;
        if (l >= p->n_layers)
            break;
        int y = r.y + LIST_TOP + row;
        bool sel = l == a->sel_layer;
        attr_t text = sel ? wg_attr(&a->style, WG_SELECTION) : wg_attr(&a->style, WG_DEFAULT);
        wg_putf(stdscr, y, r.x, 5, text, "%s%3d", sel ? ">" : " ", l);
        for (int m = 0; m < LS_N_MODULES; m++) {
            int i = LS_IDX(l, m);
            bool boosted = a->an_ok && a->an->boosted[i];
            const char *sh = wg_shade(&a->style, scale_frac(&sc[m], metric[i]));
            char buf[64] = "";
            for (int k = 0; k < cell - 2; k++)
                strcat(buf, sh);
            int x = r.x + 6 + m * cell;
            attr_t at = boosted ? wg_attr(&a->style, WG_OUTLIER)
                        : (sel && m == a->module) ? wg_attr(&a->style, WG_SELECTION)
                                                  : wg_attr(&a->style, WG_BAR);
            wg_put(stdscr, y, x, cell - 2, at, buf);
            wg_put(stdscr, y, x + cell - 2, 1, boosted ? wg_attr(&a->style, WG_OUTLIER) : text,
                   boosted ? VIEW_MARK_BOOSTED : (sel && m == a->module) ? "<" : " ");
        }
    }
}

void view_layers(app *a, wg_rect r)
{
    wg_clear_rect(stdscr, r, wg_attr(&a->style, WG_DEFAULT));
    if (!a->profile) {
        attr_t e = wg_attr(&a->style, WG_ERROR);
        int y = r.y + 1;
        if (a->load_error[0]) {
            wg_put(stdscr, y++, r.x + 1, r.w - 2, e, " Could not open the model ");
            y += wg_wrap(stdscr, y, r.x + 1, r.w - 2, r.h - 4, A_NORMAL, a->load_error);
        } else {
            wg_put(stdscr, y++, r.x + 1, r.w - 2, A_BOLD, "Nothing is open.");
        }
        wg_wrap(stdscr, y + 1, r.x + 1, r.w - 2, 3, A_NORMAL,
                "Press o to open a model (HF directory, .gguf, llama2.c .bin) or a profile "
                "CSV; q quits. The bundled demo is samples/demo (see LAYERSCOPE_SAMPLES).");
        return;
    }
    scroll_to_selection(a);
    if (a->heatmap)
        draw_heatmap(a, r);
    else
        draw_bars(a, r);
}
