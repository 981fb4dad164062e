#include "method/budget.h"


#include <math.h>
#include <stdlib.h>
#include <string.h>

static const ls_stop stops[LS_N_STOPS] = {
    {2, 128, "b2g128", 2.13}, {2, 64, "b2g64", 2.25}, {2, 32, "b2g32", 2.51},
    {3, 128, "b3g128", 3.13}, {3, 64, "b3g64", 3.25}, {3, 32, "b3g32", 3.51},
    {4, 128, "b4g128", 4.13}, {4, 64, "b4g64", 4.25}, {4, 32, "b4g32", 4.51},
    {8, 128, "b8g128", 8.13}, {8, 64, "b8g64", 8.25}, {8, 32, "b8g32", 8.51},
};

const ls_stop *ls_stop_get(int index)
{
    if (index < 0 || index >= LS_N_STOPS)
        return NULL;
    return &stops[index];
}

double ls_nominal_bpp(int b1, int g1, int b2, int g2)
{
    return b1 + 2.0 * b2 / g1 + 32.0 / ((double)g1 * g2);
}

double ls_bpp(int nbits, int group_size)
{
    return ls_nominal_bpp(nbits, group_size, 8, 128); /* the paper's metadata: b2 8, g2 128 */
}

double ls_stop_bpp(int index)
{
    const ls_stop *s = ls_stop_get(index);
    return s ? ls_bpp(s->nbits, s->group_size) : NAN;
}

int ls_stop_find(int nbits, int group_size)
{
    for (int i = 0; i < LS_N_STOPS; i++)
        if (stops[i].nbits == nbits && stops[i].group_size == group_size)
            return i;
    return -1;
}

int ls_stop_parse(const char *s)
{
    if (!s || !*s)
        return -1;
    for (int i = 0; i < LS_N_STOPS; i++)
        if (strcmp(s, stops[i].name) == 0)
            return i;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0')
        return -1;
    for (int i = 0; i < LS_N_STOPS; i++)
        if (fabs(v - stops[i].key) < 0.005)
            return i;
    return -1;
}

int ls_boost_target(int base, int stop)
{
    if (stop == 0)
        stop = 1;
    int t = base + stop;
    if (t < 0)
        t = 0;
    if (t > LS_N_STOPS - 1)
        t = LS_N_STOPS - 1;
    return t;
}

void ls_memory_compute(const int64_t *params, const unsigned char *cfg, int n, int base,
                       ls_memory *out)
{
    double bits_base = 0, bits_new = 0;
    int64_t p = 0;
    double bpp_base = ls_stop_bpp(base);
    for (int i = 0; i < n; i++) {
        p += params[i];
        bits_base += (double)params[i] * bpp_base;
        bits_new += (double)params[i] * ls_stop_bpp(cfg[i]);
    }
    const double mib = 8.0 * 1024 * 1024;
    out->params_linear = p;
    out->base_bpp = bpp_base;
    out->bpp = p > 0 ? bits_new / (double)p : bpp_base;
    out->base_mib = bits_base / mib;
    out->mib = bits_new / mib;
    out->extra_pct = bits_base > 0 ? 100.0 * (bits_new - bits_base) / bits_base : 0.0;
}
