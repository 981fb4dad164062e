/* Where the bundled sample lives (samples/ of the source tree, or $LAYERSCOPE_SAMPLES):
 * the demo model and its evaluation and calibration texts, used when no model or text is
 * named. */
#ifndef LS_SAMPLES_H
#define LS_SAMPLES_H

#include <stdbool.h>
#include <stddef.h>

/* Path of a file under the samples directory ("demo", "eval.txt", "calib.txt", ...). */
void ls_sample_path(const char *name, char *buf, size_t cap);
/* True when that file or directory exists. */
bool ls_sample_exists(const char *name);
/* True when path names the bundled demo model (however it is spelled). */
bool ls_is_sample_demo(const char *path);

#endif
