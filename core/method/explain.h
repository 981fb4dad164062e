/* The detail pane's text: for one matrix (layer, module), the numbers the detection used
 * (metric, difference d to the previous layer, trimmed mean and std, z against the
 * threshold, rank, top-m) and one sentence saying why it is or is not boosted, so a learner
 * can follow the algorithm of docs/method.md §4-§5; with an importance matrix, the
 * statistics llama-imatrix --show-statistics prints for the matrix. Pure; plain ASCII. */
#ifndef LS_EXPLAIN_H
#define LS_EXPLAIN_H

#include <stdbool.h>

#include "method/analysis.h"
#include "method/profile.h"

#define LS_EXPLAIN_MAX_LINES 12
#define LS_EXPLAIN_LINE_MAX 240

typedef struct ls_explain {
    int n_lines;
    char line[LS_EXPLAIN_MAX_LINES][LS_EXPLAIN_LINE_MAX];
    bool boosted;
} ls_explain;

void ls_explain_matrix(const ls_profile *p, const ls_analysis *a, int layer, int module,
                       ls_explain *out);

/* "12.35", "1.234e+06", "n/a", "inf": metric values as the explorer prints them. */
void ls_fmt_value(char *buf, int cap, double v);

/* One number format for the explorer and batch mode: sig significant digits, fixed point
 * between 1e-3 and 1e5 (3.200, 0.001140, 1304), else scientific with sig digits
 * (1.069e-06); never "-0". ls_fmt_value is ls_fmt_sig(.., 4); batch tables use 7. */
void ls_fmt_sig(char *buf, int cap, double v, int sig);

/* v, or +0.0 when it would print as zero with that many decimals: a "%+.2f" of it never
 * shows "-0.00". */
double ls_no_neg_zero(double v, int decimals);

#endif
