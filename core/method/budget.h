/* The twelve HQQ configurations ("stops"), the boost rule and the memory budget
 * (docs/method.md §5, §6). */
#ifndef LS_BUDGET_H
#define LS_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#define LS_N_STOPS 12

typedef struct ls_stop {
    int nbits, group_size;
    const char *name; /* "b3g128" */
    double key;       /* bpp rounded to 2 decimals, as the paper's code keys the stops */
} ls_stop;

/* Stops sorted by nominal bpp ascending (b2g128 ... b8g32). */
const ls_stop *ls_stop_get(int index);

/* The paper's nominal bits per parameter of HQQ with metadata quantization (docs/hqq.md §7):
 * b1 + 2*b2/g1 + 32/(g1*g2); ls_bpp is it with the paper's b2 = 8, g2 = 128. */
double ls_nominal_bpp(int b1, int g1, int b2, int g2);
double ls_bpp(int nbits, int group_size);
double ls_stop_bpp(int index);

/* Parses "b3g128" or a bpp key such as "3.13"; returns the stop index or -1. */
int ls_stop_parse(const char *s);
/* Stop index of (nbits, group_size), or -1. */
int ls_stop_find(int nbits, int group_size);

/* Target stop of a boost: base + stop, a stop of 0 read as 1 (the reference's falsy
 * default), clamped to [0, 11] (the top stop caps, as the paper's R code does). */
int ls_boost_target(int base, int stop);

/* Memory of an allocation over the 7 linear module types (docs/method.md §6). */
typedef struct ls_memory {
    double base_bpp, bpp;   /* nominal bits per parameter: base and current allocation */
    double base_mib, mib;   /* nominal MiB of the linear weights */
    double extra_pct;       /* 100 * (mem_new - mem_orig) / mem_orig */
    int64_t params_linear;  /* P */
} ls_memory;

/* cfg[i] is the stop index of matrix i, params[i] its element count, n matrices. */
void ls_memory_compute(const int64_t *params, const unsigned char *cfg, int n, int base,
                       ls_memory *out);

#endif
