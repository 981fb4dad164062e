/* A hand-chosen boosted set (--manual FILE): either text lines "LAYER.MODULE" /
 * "LAYER MODULE" (module by full or short name; '#' starts a comment), or a layerscope
 * allocation export, whose "boosted" list is taken. */
#ifndef LS_MANUAL_H
#define LS_MANUAL_H

#include "base/error.h"

/* flags: [n_layers * 7], zeroed and filled. */
int ls_manual_read(const char *path, int n_layers, unsigned char *flags, ls_error *err);

/* Parses one "LAYER.MODULE" or "LAYER MODULE" entry; -1 when malformed. */
int ls_manual_parse_entry(const char *s, int n_layers, int *layer, int *module);

#endif
