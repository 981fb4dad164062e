/* The explorer's saved settings: $LAYERSCOPE_CONFIG, else
 * $XDG_CONFIG_HOME/layerscope/config.json, else ~/.config/layerscope/config.json.
 * JSON with a "version" key; unknown keys are ignored with a note; a broken file is
 * reported and ignored (defaults are used), never fatal. Written atomically. */
#ifndef LS_UICONFIG_H
#define LS_UICONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "method/analysis.h"
#include "base/error.h"

#define LS_UICONFIG_VERSION 1

typedef struct ls_uiconfig {
    bool has_settings;   /* the file held settings */
    ls_settings settings; /* the LS_SETTINGS_CONFIG fields (method/settings.h) */
    char theme[16];      /* "default" "light" "mono"; "" = default */
    bool log_scale;
    char last_model[1024];
} ls_uiconfig;

void ls_uiconfig_default(ls_uiconfig *c);

/* The path to use (no file access). Returns -1 when neither HOME nor XDG_CONFIG_HOME is set. */
int ls_uiconfig_path(char *buf, size_t cap);

/* Returns 0 (loaded; note lists ignored keys, "" if none), 1 (no file: defaults) or -1 (a
 * broken file: err says why, c holds the defaults). */
int ls_uiconfig_load(const char *path, ls_uiconfig *c, char *note, size_t note_cap,
                     ls_error *err);

/* Creates the parent directory if needed, then writes atomically. */
int ls_uiconfig_save(const char *path, const ls_uiconfig *c, ls_error *err);

#endif
