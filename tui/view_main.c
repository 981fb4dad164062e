/* The header and the main panel: per-layer bars of one module type, or the heatmap. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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
    /* line 2 in priority order, whole items only; what does not fit moves up to line 1 */
    char items[6][96];
    int n = 0;
    snprintf(items[n++], sizeof items[0], "method %s (%s)", ls_method_name(s->method),
             method_title(s));
    snprintf(items[n++], sizeof items[0], "boosted %d of %d", a->an_ok ? a->an->n_boosted : 0,
             p->n_layers * LS_N_MODULES);
    const char *mode = ls_settings_mode_label(s);
    snprintf(items[n++], sizeof items[0], "mode %s", mode ? mode : "-");
    snprintf(items[n++], sizeof items[0], "top-m %d%s", s->top_m, s->top_m == 0 ? " (all)" : "");
    snprintf(items[n++], sizeof items[0], "stop %d: %s -> %s", s->boost_stop,
             ls_stop_get(s->base)->name,
             ls_stop_get(ls_boost_target(s->base, s->boost_stop))->name);
    if (s->ablation)
        snprintf(items[n++], sizeof items[0], "seed %llu", (unsigned long long)s->seed);
    char l1[512], l2[512];
    snprintf(l2, sizeof l2, " %s", items[0]);
    int k = 1;
    for (; k < n; k++) {
        if (wg_text_width(l2) + 2 + wg_text_width(items[k]) > r.w)
            break;
        size_t at = strlen(l2);
        snprintf(l2 + at, sizeof l2 - at, "  %s", items[k]);
    }
    /* line 1 names the base unless the stop item (which names it) moves up */
    bool stop_up = k <= 4;
    snprintf(l1, sizeof l1, " %s (%s)  %d layers  %s linear params%s%s%s", p->name, p->source,
             p->n_layers, params, stop_up ? "" : "  base ", stop_up ? "" : ls_stop_get(s->base)->name,
             a->kurt_pending ? "  [computing kurtosis]" : "");
    bool stop_shown = !stop_up;
    for (; k < n; k++) {
        if (wg_text_width(l1) + 2 + wg_text_width(items[k]) > r.w)
            continue;
        size_t at = strlen(l1);
        snprintf(l1 + at, sizeof l1 - at, "  %s", items[k]);
        stop_shown |= k == 4;
    }
    if (!stop_shown) { /* a long name left no room: at least the base */
        size_t at = strlen(l1);
        snprintf(l1 + at, sizeof l1 - at, "  base %s", ls_stop_get(s->base)->name);
    }
    if (ls_method_is_budget(s->method)) { /* a budget method: its target, no boost stop */
        static const char *const unit[] = {"", "bpp", "MiB", "% over the base"};
        int tk = s->target_kind >= 0 && s->target_kind <= 3 ? s->target_kind : 0;
        snprintf(l1, sizeof l1, " %s (%s)  %d layers  %s linear params  base %s", p->name,
                 p->source, p->n_layers, params, ls_stop_get(s->base)->name);
        snprintf(l2, sizeof l2, " method %s (%s)  target %g %s  changed %d%s",
                 ls_method_name(s->method), method_title(s), s->target, unit[tk],
                 a->an_ok ? a->an->n_boosted : 0,
                 a->an_ok && a->an->budget ? "" : "  [no allocation: see the status line]");
    }
    wg_put(stdscr, r.y, r.x, r.w, h, l1);
    wg_put(stdscr, r.y + 1, r.x, r.w, h, l2);
}

int view_main_rows(const app *a)
{
    int h = a->layout.main.h - LIST_TOP;
    return h > 0 ? h : 0;
}

/* The layers the list shows: all, or with the outliers-only filter (f) those whose matrix
 * of the selected module is boosted or flagged by either metric. */
static bool layer_flagged(const app *a, int l)
{
    if (!a->an_ok)
        return true;
    int m = a->module;
    return a->an->boosted[LS_IDX(l, m)] || a->an->sensi[m].outlier[l] || a->an->kurt[m].outlier[l];
}

const char *view_sort_name(int key)
{
    return key == SORT_METRIC ? "by metric" : key == SORT_ABSZ ? "by |z|" : "by layer";
}

/* Sort value of layer l (larger first; NaN last): the method's metric (kurtosis for
 * KurtBoost, else the sensitivity, falling back to kurtosis without one) or |z| of the
 * method's detection (the larger of the two for both metrics). */
static double sort_value(const app *a, int l)
{
    int m = a->module;
    ls_method me = a->settings.method;
    bool kurt_only = me == LS_METHOD_KURT || me == LS_METHOD_KURT_MILP;
    if (a->sort_key == SORT_METRIC) {
        double s = a->profile ? a->profile->sensitivity[LS_IDX(l, m)] : NAN;
        double k = a->profile ? a->profile->kurtosis[LS_IDX(l, m)] : NAN;
        return kurt_only || !isfinite(s) ? k : s;
    }
    if (!a->an_ok)
        return NAN;
    double zs = fabs(a->an->sensi[m].z[l]), zk = fabs(a->an->kurt[m].z[l]);
    if (kurt_only)
        return zk;
    if (me == LS_METHOD_SENSI || me == LS_METHOD_SENSI_MILP)
        return zs;
    return isfinite(zs) && isfinite(zk) ? fmax(zs, zk) : isfinite(zs) ? zs : zk;
}

int view_visible_layers(const app *a, int *out)
{
    int n = 0;
    for (int l = 0; l < app_n_layers(a); l++)
        if (!a->only_outliers || layer_flagged(a, l))
            out[n++] = l;
    if (a->sort_key == SORT_LAYER)
        return n;
    double key[LS_MAX_LAYERS];
    for (int l = 0; l < app_n_layers(a); l++)
        key[l] = sort_value(a, l);
    for (int i = 1; i < n; i++) { /* stable insertion sort: larger first, NaN last */
        int l = out[i], j = i;
        while (j > 0) {
            double kp = key[out[j - 1]], kl = key[l];
            bool before = isfinite(kl) && (!isfinite(kp) || kl > kp);
            if (!before)
                break;
            out[j] = out[j - 1];
            j--;
        }
        out[j] = l;
    }
    return n;
}

int view_visible_index(const int *vis, int n, int layer)
{
    for (int i = 0; i < n; i++)
        if (vis[i] == layer)
            return i;
    for (int i = 0; i < n; i++)
        if (vis[i] >= layer)
            return i;
    return n > 0 ? n - 1 : 0;
}

/* Keeps the selected layer visible (scroll counts visible rows). */
static void scroll_to_selection(app *a, const int *vis, int n)
{
    int rows = view_main_rows(a), pos = view_visible_index(vis, n, a->sel_layer);
    if (pos < a->scroll)
        a->scroll = pos;
    if (rows > 0 && pos >= a->scroll + rows)
        a->scroll = pos - rows + 1;
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
    int vis[LS_MAX_LAYERS];
    int n = view_visible_layers(a, vis);
    int i = a->scroll + (y - r.y - LIST_TOP);
    return i < n ? vis[i] : -1;
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
        a->tab_x[m] = x;
        x += wg_putf(stdscr, r.y, x, r.x + r.w - x, at, " %d %s ", m + 1,
                     ls_module_short_name(m));
    }
    a->tab_x[LS_N_MODULES] = x;
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

/* Kurtosis bars (K cycles the scale). The normal value 3 is marked in every mode.
 *   range: from min(smallest, 3) to the largest, so 3.0 .. 3.7 fills the bar
 *   clip:  the same start, the end at 1.5x the 90th percentile's distance from it; longer
 *          bars end in '>' (one layer that dwarfs the rest no longer flattens the others)
 *   log:   log(1 + v - start) over log(1 + largest - start)
 *   zero:  v / largest (the bars start at 0; the earlier view) */
typedef struct kscale {
    int mode;
    double lo, hi;
} kscale;

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static kscale kscale_of(const app *a, const double *metric, int module)
{
    kscale k = {a->kurt_scale, INFINITY, -INFINITY};
    double v[LS_MAX_LAYERS];
    int n = 0;
    for (int l = 0; l < app_n_layers(a); l++) {
        double x = metric[LS_IDX(l, module)];
        if (isfinite(x))
            v[n++] = x;
    }
    if (n == 0)
        return k;
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    k.lo = v[0] < 3.0 ? v[0] : 3.0;
    k.hi = v[n - 1];
    if (k.mode == KSCALE_CLIP) {
        double q90 = v[(n - 1) * 9 / 10], cap = k.lo + 1.5 * (q90 - k.lo);
        if (cap > k.lo && cap < k.hi)
            k.hi = cap;
    }
    return k;
}

static double kscale_frac(const kscale *k, double v, bool *clipped)
{
    *clipped = false;
    if (!isfinite(v) || !(k->hi > k->lo) || !isfinite(k->lo))
        return k->mode == KSCALE_ZERO && k->hi > 0 && isfinite(v) ? v / k->hi : 0;
    switch (k->mode) {
    case KSCALE_ZERO: return k->hi > 0 ? v / k->hi : 0;
    case KSCALE_LOG: return log1p(v - k->lo) / log1p(k->hi - k->lo);
    default:
        *clipped = k->mode == KSCALE_CLIP && v > k->hi;
        return *clipped ? 1 : (v - k->lo) / (k->hi - k->lo);
    }
}

const char *view_kurt_scale_name(int mode)
{
    static const char *const names[] = {"range", "clip", "log", "zero"};
    return mode >= 0 && mode < KSCALE_COUNT ? names[mode] : "?";
}

static void draw_metric(app *a, int y, int x, int vw, int bw, double v, double frac,
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
    wg_bar_draw(stdscr, &a->style, y, x + vw + 1, bw, frac, kind, role);
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
        wg_put(stdscr, y, x + vw, 1, wg_attr(&a->style, WG_THRESHOLD), VIEW_MARK_STALE);
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
    char right[128];
    char order[64] = "";
    if (a->sort_key != SORT_LAYER)
        snprintf(order, sizeof order, "%s  ", view_sort_name(a->sort_key));
    /* which selection of a sensitivity CSV is shown (D / C switch it) */
    const char *paren = use_s ? strrchr(p->sensitivity_source, '(') : NULL;
    if (paren && strchr(paren, ')') && strlen(order) + 24 < sizeof order) {
        size_t used = strlen(order);
        snprintf(order + used, sizeof order - used, "%.*s  ",
                 (int)(strchr(paren, ')') - paren - 1 > 20 ? 20 : strchr(paren, ')') - paren - 1),
                 paren + 1);
    }
    snprintf(right, sizeof right, "%s%s%s  kurt %s  %s", order, a->only_outliers ? "flagged  " : "",
             a->log_scale ? "log" : "lin", view_kurt_scale_name(a->kurt_scale),
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
    /* titles in full when the column has room, else a short form: never cut into the next */
    const char *sdesc = use_s ? (s->mode == LS_DIFF_SUBTRACT ? " (subtract)" : " (divide)") : "";
    const char *kdesc = use_k ? (s->mode == LS_DIFF_DIVIDE ? " (divide)" : " (subtract)") : "";
    char ts[48], tk[48];
    snprintf(ts, sizeof ts, "%s%s", p->sensitivity_label[0] ? p->sensitivity_label : "sensitivity",
             sdesc);
    if (wg_text_width(ts) > half - 1)
        snprintf(ts, sizeof ts, "sensi%s", !use_s ? "" : s->mode == LS_DIFF_SUBTRACT ? " (sub)" : " (div)");
    snprintf(tk, sizeof tk, "kurtosis%s", kdesc);
    if (wg_text_width(tk) > half - 1)
        snprintf(tk, sizeof tk, "kurt%s", !use_k ? "" : s->mode == LS_DIFF_DIVIDE ? " (div)" : " (sub)");
    wg_put(stdscr, r.y + 1, xs, half - 1, title, ts);
    wg_put(stdscr, r.y + 1, xk, half - 1, title, tk);
    if (a->q_known)
        wg_put(stdscr, r.y + 1, xq, half - 1, title,
               half - 1 >= 19 ? "HQQ error (~ stale)" : "HQQ err (~stale)");
    if (lerr)
        wg_put(stdscr, r.y + 1, xl, half - 1, title,
               half - 1 >= 18 ? "err in: L2 cos (P)" : "L2 cos (P)");
    if (dkl)
        wg_put(stdscr, r.y + 1, xd, half - 1, title, "measured dKL");
    wg_put(stdscr, r.y + 1, xc, cfg_w - 1, title, "config");
    double lmax = 0;
    for (int l = 0; lerr && l < a->layer_err_n; l++)
        lmax = a->layer_rel[l] > lmax ? a->layer_rel[l] : lmax;

    scale ss = scale_of(a, p->sensitivity, m);
    kscale sk = kscale_of(a, p->kurtosis, m);
    scale sq = scale_of(a, a->q_err, m);
    scale sd = scale_of(a, p->measured_dkl ? p->measured_dkl : p->sensitivity, m);
    int rows = view_main_rows(a), vis[LS_MAX_LAYERS];
    int nvis = view_visible_layers(a, vis);
    if (nvis == 0)
        wg_put(stdscr, r.y + LIST_TOP, r.x + 1, r.w - 2, wg_attr(&a->style, WG_DIM),
               "no layer of this module is flagged (f shows every layer)");
    for (int row = 0; row < rows; row++) {
        if (a->scroll + row >= nvis)
            break;
        int l = vis[a->scroll + row];
        int y = r.y + LIST_TOP + row;
        int i = LS_IDX(l, m);
        bool sel = l == a->sel_layer;
        bool boosted = a->an_ok && an->boosted[i];
        attr_t text = sel ? wg_attr(&a->style, WG_SELECTION) : wg_attr(&a->style, WG_DEFAULT);
        if (sel)
            wg_blank(stdscr, y, r.x, r.w, text);
        wg_putf(stdscr, y, r.x, 4, text, "%s%3d", sel ? VIEW_MARK_SELECTED : " ", l);
        wg_put(stdscr, y, r.x + 4, 1,
               boosted ? wg_attr(&a->style, WG_OUTLIER) : text, boosted ? VIEW_MARK_BOOSTED : " ");
        draw_metric(a, y, xs, vw, bw, p->sensitivity[i], scale_frac(&ss, p->sensitivity[i]),
                    &an->sensi[m], use_s, l, false, text);
        bool clipped;
        double kf = kscale_frac(&sk, p->kurtosis[i], &clipped);
        draw_metric(a, y, xk, vw, bw, p->kurtosis[i], kf, &an->kurt[m], use_k, l,
                    a->kurt_pending, text);
        if (isfinite(p->kurtosis[i])) {
            bool unused;
            wg_bar_mark(stdscr, &a->style, y, xk + vw + 1, bw, kscale_frac(&sk, 3.0, &unused),
                        WG_THRESHOLD);
            if (clipped)
                wg_bar_clipped(stdscr, &a->style, y, xk + vw + 1, bw, WG_OUTLIER);
        }
        if (a->q_known)
            draw_qerr(a, y, xq, vw, bw, i, &sq, text);
        if (lerr && l < a->layer_err_n) /* the current allocation's error at the layer's output */
            draw_layer_err(a, y, xl, half, a->layer_rel[l], a->layer_cos[l], lmax, text);
        if (dkl)
            draw_metric(a, y, xd, vw, bw, p->measured_dkl ? p->measured_dkl[i] : NAN,
                        scale_frac(&sd, p->measured_dkl ? p->measured_dkl[i] : NAN),
                        &an->sensi[m], false, l, a->measure_pending, text);
        const char *base = ls_stop_get(s->base)->name;
        if (boosted)
            wg_putf(stdscr, y, xc, cfg_w - 1, wg_attr(&a->style, WG_OUTLIER), "%s%s%s", base,
                    VIEW_BOOST_ARROW, ls_stop_get(an->cfg[i])->name);
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
    int rows = view_main_rows(a), vis[LS_MAX_LAYERS];
    int nvis = view_visible_layers(a, vis);
    for (int row = 0; row < rows; row++) {
        if (a->scroll + row >= nvis)
            break;
        int l = vis[a->scroll + row];
        int y = r.y + LIST_TOP + row;
        bool sel = l == a->sel_layer;
        attr_t text = sel ? wg_attr(&a->style, WG_SELECTION) : wg_attr(&a->style, WG_DEFAULT);
        wg_putf(stdscr, y, r.x, 5, text, "%s%3d", sel ? VIEW_MARK_SELECTED : " ", l);
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
                   boosted ? VIEW_MARK_BOOSTED : (sel && m == a->module) ? VIEW_MARK_HEAT_SEL : " ");
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
    int vis[LS_MAX_LAYERS];
    scroll_to_selection(a, vis, view_visible_layers(a, vis));
    if (a->heatmap)
        draw_heatmap(a, r);
    else
        draw_bars(a, r);
}
