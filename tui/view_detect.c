/* The detection screen (z): for the selected module, the method's series per layer with
 * its difference d and z-score, drawn on a z axis with the +/-threshold band; the trimmed
 * values (left out of the trimmed mean and std) and the outliers are marked. It teaches how
 * SensiBoost / KurtBoost decide, from the same ls_detection the allocation uses. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "method/explain.h"
#include "view.h"
#include "zplot.h"

/* The series the method detects on: kurtosis for KurtBoost (and when no sensitivity is
 * known), else sensitivity. */
static const ls_detection *series(const app *a, const char **name)
{
    bool kurt = a->settings.method == LS_METHOD_KURT || !a->an->have_sensi;
    *name = kurt ? "kurtosis" : "sensitivity";
    return kurt ? &a->an->kurt[a->module] : &a->an->sensi[a->module];
}

/* trimmed[l]: the difference is one of the k smallest or k largest (ties by layer). */
static void trimmed_of(const ls_detection *d, bool *trimmed)
{
    int idx[LS_MAX_LAYERS], n = 0;
    for (int l = 0; l < d->n_layers; l++) {
        trimmed[l] = false;
        if (d->valid[l])
            idx[n++] = l;
    }
    for (int i = 1; i < n; i++) /* insertion sort by (diff, layer): n <= 256 */
        for (int j = i; j > 0 && d->diff[idx[j]] < d->diff[idx[j - 1]]; j--) {
            int t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    for (int i = 0; i < n; i++)
        if (i < d->k || i >= n - d->k)
            trimmed[idx[i]] = true;
}

void view_detect(app *a, wg_rect r)
{
    wg_clear_rect(stdscr, r, A_NORMAL);
    if (!a->profile || !a->an_ok)
        return;
    attr_t t = wg_attr(&a->style, WG_TITLE), d = wg_attr(&a->style, WG_DEFAULT);
    const char *name;
    const ls_detection *det = series(a, &name);
    double thr = a->settings.detect.threshold;
    char mu[32], sg[32];
    ls_fmt_value(mu, sizeof mu, det->mu);
    ls_fmt_value(sg, sizeof sg, det->sigma);
    int y = r.y, end = r.y + r.h;
    wg_putf(stdscr, y++, r.x + 1, r.w - 2, t, "Detection: %s of %s, d %s; trimmed mean %s, "
            "std %s, k %d", name, ls_module_name(a->module), ls_diff_mode_name(det->mode), mu, sg,
            det->k);
    wg_putf(stdscr, y++, r.x + 1, r.w - 2, wg_attr(&a->style, WG_DIM),
            "%s value  %s trimmed (not in mean/std)  %s outlier kept  %s dropped by top-m  "
            "%s threshold %g  %s z = 0", VIEW_DETECT_VALUE, VIEW_DETECT_TRIMMED, VIEW_DETECT_KEPT,
            VIEW_DETECT_DROPPED, WG_ZPLOT_BAND, thr, WG_ZPLOT_ZERO);
    /* z as the method defines it may be one-sided (|d - mean| / std): the axis starts at 0
     * unless a value is negative */
    double zmax = thr * 1.25, zmin = 0;
    for (int l = 0; l < det->n_layers; l++)
        if (isfinite(det->z[l])) {
            zmax = det->z[l] > zmax ? det->z[l] : zmax;
            zmin = det->z[l] < zmin ? det->z[l] : zmin;
        }
    if (zmax > thr * 4)
        zmax = thr * 4; /* a huge z sits on the end cell; the band stays readable */
    if (zmin < 0)
        zmin = -zmax;
    bool trimmed[LS_MAX_LAYERS];
    trimmed_of(det, trimmed);
    wg_put(stdscr, y++, r.x, r.w, t, "  lyr          d          z  z axis");
    int rows = end - y, n = det->n_layers;
    int first = a->sel_layer >= rows ? a->sel_layer - rows + 1 : 0;
    int pw = r.w - 29;
    for (int l = first; l < n && y < end; l++, y++) {
        bool sel = l == a->sel_layer;
        attr_t text = sel ? wg_attr(&a->style, WG_SELECTION) : d;
        char dv[32], zv[32];
        ls_fmt_value(dv, sizeof dv, det->diff[l]);
        ls_fmt_value(zv, sizeof zv, det->z[l]);
        wg_putf(stdscr, y, r.x, 28, text, "%s%3d %10s %10s", sel ? ">" : " ", l,
                det->valid[l] ? dv : "-", det->valid[l] ? zv : "-");
        const char *g = det->selected[l]  ? VIEW_DETECT_KEPT
                        : det->outlier[l] ? VIEW_DETECT_DROPPED
                        : trimmed[l]      ? VIEW_DETECT_TRIMMED
                                          : VIEW_DETECT_VALUE;
        wg_role role = det->selected[l]  ? WG_OUTLIER
                       : det->outlier[l] ? WG_THRESHOLD
                       : trimmed[l]      ? WG_DIM
                                         : WG_BAR;
        wg_zplot_row(stdscr, &a->style, y, r.x + 28, pw, det->valid[l] ? det->z[l] : NAN, zmin,
                     zmax, thr, g, role);
    }
}
