#include "io/frontier_out.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/atomic_write.h"
#include "io/result_json.h"

cJSON *ls_frontier_json(const ls_frontier *f, const char *measure, double fp_ppl)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "measure", measure);
    cJSON_AddItemToObject(o, "fp_ppl", ls_json_exact_number(fp_ppl));
    cJSON_AddStringToObject(o, "base", ls_stop_get(f->base)->name);
    cJSON_AddStringToObject(o, "note", f->note);
    cJSON *pts = cJSON_AddArrayToObject(o, "points");
    for (int i = 0; i < f->n; i++) {
        const ls_frontier_point *p = &f->pts[i];
        cJSON *q = cJSON_CreateObject();
        cJSON_AddStringToObject(q, "label", p->label);
        cJSON_AddStringToObject(q, "kind", ls_frontier_kind_name(p->kind));
        cJSON_AddItemToObject(q, "bpp", ls_json_exact_number(p->bpp));
        cJSON_AddItemToObject(q, "extra_pct", ls_json_exact_number(p->extra_pct));
        cJSON_AddItemToObject(q, "kld_mean", ls_json_exact_number(p->kld_mean));
        cJSON_AddItemToObject(q, "kld_se", ls_json_exact_number(p->kld_se));
        cJSON_AddItemToObject(q, "ppl", ls_json_exact_number(p->ppl));
        cJSON_AddItemToObject(q, "ppl_err", ls_json_exact_number(p->ppl_err));
        char fp[24];
        snprintf(fp, sizeof fp, "%016llx", (unsigned long long)p->fingerprint);
        cJSON_AddStringToObject(q, "fingerprint", fp);
        cJSON_AddItemToArray(pts, q);
    }
    return o;
}

static void put_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.10g", v);
}

int ls_frontier_write_csv(const char *path, const ls_frontier *fr, ls_error *err)
{
    ls_atomic_file af;
    if (ls_atomic_open(path, &af, err) < 0)
        return -1;
    fputs("label,kind,bpp,extra_pct,kld_mean,kld_se,ppl,ppl_err,fingerprint\n", af.f);
    for (int i = 0; i < fr->n; i++) {
        const ls_frontier_point *p = &fr->pts[i];
        fprintf(af.f, "\"%s\",%s,", p->label, ls_frontier_kind_name(p->kind));
        put_num(af.f, p->bpp);
        fputc(',', af.f);
        put_num(af.f, p->extra_pct);
        fputc(',', af.f);
        put_num(af.f, p->kld_mean);
        fputc(',', af.f);
        put_num(af.f, p->kld_se);
        fputc(',', af.f);
        put_num(af.f, p->ppl);
        fputc(',', af.f);
        put_num(af.f, p->ppl_err);
        fprintf(af.f, ",%016llx\n", (unsigned long long)p->fingerprint);
    }
    return ls_atomic_commit(&af, err);
}

/* ---- SVG ---- */

typedef struct svg_frame {
    double x0, x1, y0, y1; /* data range (y in log10 when log) */
    bool log_y;
    double left, top, width, height;
} svg_frame;

static double ty(const svg_frame *fr, double v)
{
    double y = fr->log_y ? log10(v) : v;
    return fr->top + fr->height * (1.0 - (y - fr->y0) / (fr->y1 - fr->y0));
}

static double tx(const svg_frame *fr, double v)
{
    return fr->left + fr->width * (v - fr->x0) / (fr->x1 - fr->x0);
}

static double point_y(const ls_frontier_point *p, bool use_kld)
{
    return use_kld ? p->kld_mean : p->ppl;
}

static double point_err(const ls_frontier_point *p, bool use_kld)
{
    return use_kld ? p->kld_se : p->ppl_err;
}

/* One marker shape per kind (uniform: filled circle). */
static void marker(FILE *f, ls_frontier_kind k, double x, double y)
{
    switch (k) {
    case LS_FK_UNIFORM:
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"black\"/>\n", x, y);
        break;
    case LS_FK_SENSI:
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"9\" height=\"9\" fill=\"white\" "
                   "stroke=\"black\" stroke-width=\"1.5\"/>\n", x - 4.5, y - 4.5);
        break;
    case LS_FK_KURT:
        fprintf(f, "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\" fill=\"white\" "
                   "stroke=\"black\" stroke-width=\"1.5\"/>\n", x, y - 6, x - 5.5, y + 4,
                x + 5.5, y + 4);
        break;
    case LS_FK_ABLATION:
        fprintf(f, "<path d=\"M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f\" stroke=\"black\" "
                   "stroke-width=\"1.5\"/>\n", x - 4.5, y - 4.5, x + 4.5, y + 4.5, x - 4.5,
                y + 4.5, x + 4.5, y - 4.5);
        break;
    case LS_FK_MXQ:
        fprintf(f, "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f\" fill=\"black\"/>\n",
                x, y - 6, x + 6, y, x, y + 6, x - 6, y);
        break;
    default:
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"none\" stroke=\"black\" "
                   "stroke-width=\"1.5\"/><circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.5\" "
                   "fill=\"black\"/>\n", x, y, x, y);
        break;
    }
}

static void escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '"')
            fputs("&quot;", f);
        else
            fputc(*s, f);
    }
}

int ls_frontier_write_svg(const char *path, const ls_frontier *fr, const char *title,
                          bool use_kld, bool log_y, double fp_ppl, ls_error *err)
{
    svg_frame F = {INFINITY, -INFINITY, INFINITY, -INFINITY, log_y, 80, 50, 470, 340};
    int n_done = 0;
    for (int i = 0; i < fr->n; i++) {
        const ls_frontier_point *p = &fr->pts[i];
        double y = point_y(p, use_kld), e = point_err(p, use_kld);
        if (!p->done || !isfinite(y) || (log_y && y <= 0))
            continue;
        n_done++;
        F.x0 = fmin(F.x0, p->bpp);
        F.x1 = fmax(F.x1, p->bpp);
        double lo = isfinite(e) ? y - e : y, hi = isfinite(e) ? y + e : y;
        if (log_y && lo <= 0)
            lo = y;
        F.y0 = fmin(F.y0, log_y ? log10(lo) : lo);
        F.y1 = fmax(F.y1, log_y ? log10(hi) : hi);
    }
    if (n_done == 0)
        return ls_fail(err, "%s: no measured frontier point to draw", path);
    double dx = F.x1 - F.x0, dy = F.y1 - F.y0;
    if (dx <= 0)
        dx = 1;
    if (dy <= 0)
        dy = fabs(F.y0) > 0 ? fabs(F.y0) * 0.1 : 1;
    F.x0 -= 0.05 * dx;
    F.x1 += 0.05 * dx;
    F.y0 -= 0.08 * dy;
    F.y1 += 0.08 * dy;
    ls_atomic_file af;
    if (ls_atomic_open(path, &af, err) < 0)
        return -1;
    FILE *f = af.f;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"460\" "
               "viewBox=\"0 0 720 460\" font-family=\"sans-serif\" font-size=\"11\">\n");
    fprintf(f, "<rect width=\"720\" height=\"460\" fill=\"white\"/>\n<title>");
    escape(f, title);
    fprintf(f, "</title>\n<text x=\"360\" y=\"24\" text-anchor=\"middle\" font-size=\"14\">");
    escape(f, title);
    fprintf(f, "</text>\n");
    /* axes and ticks */
    fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
               "stroke=\"black\"/>\n", F.left, F.top, F.width, F.height);
    for (int k = 0; k <= 5; k++) {
        double xv = F.x0 + (F.x1 - F.x0) * k / 5, yv = F.y0 + (F.y1 - F.y0) * k / 5;
        double X = tx(&F, xv), Y = F.top + F.height * (1.0 - (double)k / 5);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.3f</text>\n",
                X, F.top + F.height, X, F.top + F.height + 5, X, F.top + F.height + 18, xv);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>\n",
                F.left - 5, Y, F.left, Y, F.left - 8, Y + 4, log_y ? pow(10, yv) : yv);
    }
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">nominal bits per parameter "
               "(7 linear types)</text>\n", F.left + F.width / 2, F.top + F.height + 38);
    fprintf(f, "<text x=\"18\" y=\"%.0f\" text-anchor=\"middle\" transform=\"rotate(-90 18 %.0f)"
               "\">%s%s</text>\n", F.top + F.height / 2, F.top + F.height / 2,
            use_kld ? "KLD to the unquantized model" : "perplexity", log_y ? " (log scale)" : "");
    if (!use_kld && isfinite(fp_ppl) && (!log_y || fp_ppl > 0)) {
        double y = ty(&F, fp_ppl);
        if (y >= F.top && y <= F.top + F.height)
            fprintf(f, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"black\" "
                       "stroke-dasharray=\"2 3\"/><text x=\"%.0f\" y=\"%.1f\" "
                       "text-anchor=\"end\">unquantized %.4g</text>\n",
                    F.left, y, F.left + F.width, y, F.left + F.width - 4, y - 4, fp_ppl);
    }
    /* the "no boosting" line through the uniform configs (bpp ascending as built) */
    fprintf(f, "<polyline fill=\"none\" stroke=\"black\" stroke-width=\"1.5\" points=\"");
    double lx = NAN, ly = NAN;
    for (int i = 0; i < fr->n; i++) {
        const ls_frontier_point *p = &fr->pts[i];
        double y = point_y(p, use_kld);
        if (p->kind != LS_FK_UNIFORM || !p->done || !isfinite(y) || (log_y && y <= 0))
            continue;
        fprintf(f, "%.1f,%.1f ", tx(&F, p->bpp), ty(&F, y));
        lx = tx(&F, p->bpp);
        ly = ty(&F, y);
    }
    fprintf(f, "\"/>\n");
    if (isfinite(lx))
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-style=\"italic\">no boosting</text>\n",
                lx + 8, ly - 8);
    for (int i = 0; i < fr->n; i++) {
        const ls_frontier_point *p = &fr->pts[i];
        double y = point_y(p, use_kld), e = point_err(p, use_kld);
        if (!p->done || !isfinite(y) || (log_y && y <= 0))
            continue;
        double X = tx(&F, p->bpp), Y = ty(&F, y);
        if (isfinite(e) && e > 0 && (!log_y || y - e > 0))
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n",
                    X, ty(&F, y - e), X, ty(&F, y + e));
        marker(f, p->kind, X, Y);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", X + 8, Y + (i % 2 ? 12 : -6));
        escape(f, p->label);
        fprintf(f, "</text>\n");
    }
    /* legend: shape per kind */
    static const ls_frontier_kind kinds[] = {LS_FK_UNIFORM, LS_FK_SENSI, LS_FK_KURT,
                                             LS_FK_ABLATION, LS_FK_MXQ, LS_FK_CURRENT};
    static const char *const names[] = {"uniform (no boosting)", "SensiBoost", "KurtBoost",
                                        "ablation (random)", "MXQ", "current"};
    for (int k = 0; k < 6; k++) {
        double Y = F.top + 12 + 18 * k;
        marker(f, kinds[k], F.left + F.width + 14, Y);
        fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"10\">%s</text>\n",
                F.left + F.width + 24, Y + 4, names[k]);
    }
    fprintf(f, "</svg>\n");
    return ls_atomic_commit(&af, err);
}
