/* The frontier's exports: the "frontier" object of the result JSON, a CSV table and an
 * SVG picture (bpp on x, PPL or KLD on y; the uniform configs joined as the "no boosting"
 * line; every other kind its own marker shape and a text label, so it reads in black and
 * white). */
#ifndef LS_FRONTIER_OUT_H
#define LS_FRONTIER_OUT_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "base/error.h"
#include "method/frontier.h"

/* measure: "ppl" or "kld"; fp_ppl: the unquantized model's PPL (NaN when unknown). */
cJSON *ls_frontier_json(const ls_frontier *f, const char *measure, double fp_ppl);
int ls_frontier_write_csv(const char *path, const ls_frontier *f, ls_error *err);
int ls_frontier_write_svg(const char *path, const ls_frontier *f, const char *title,
                          bool use_kld, bool log_y, double fp_ppl, ls_error *err);

#endif
