/* The explorer's application state. Only the UI thread reads or writes it; background
 * jobs get copies or read-only pointers and hand results back through the job queue. */
#ifndef TUI_APP_H
#define TUI_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "analysis.h"
#include "histogram.h"
#include "jobs.h"
#include "layout.h"
#include "model.h"
#include "options.h"
#include "profile.h"
#include "prompt.h"
#include "style.h"
#include "uiargs.h"
#include "uiconfig.h"

/* Where `layerscope` with no argument looks first (issue 6 will ship a sample instead). */
#define LS_DEFAULT_MODEL_PATH "build/demo"

#define APP_UNDO_MAX 64
#define APP_MAX_JOBS 8
#define APP_N_FLAGS (LS_MAX_LAYERS * LS_N_MODULES)

typedef enum app_screen { SCREEN_MAIN, SCREEN_HELP, SCREEN_HIST } app_screen;
typedef enum app_prompt { PROMPT_OPEN = 1, PROMPT_EXPORT } app_prompt;
typedef enum app_job_kind { JOB_KURTOSIS = 1, JOB_HISTOGRAM } app_job_kind;

/* Reactions an action asks for, instead of calling each other. */
enum {
    R_NONE = 0,
    R_REDRAW = 1 << 0,
    R_ANALYZE = 1 << 1, /* settings changed: re-run detection and allocation */
    R_QUIT = 1 << 2,
};

typedef struct app_undo {
    ls_settings settings;
    bool has_manual;
    unsigned char manual[APP_N_FLAGS];
} app_undo;

typedef struct app {
    const ls_options *opts;
    const ui_args *args;
    int threads;

    /* what is open */
    ls_model *model;     /* NULL for a profile or when nothing is open */
    ls_profile *profile; /* NULL when nothing is open */
    char path[1024];
    char load_error[LS_ERROR_MSG_MAX]; /* shown instead of the layers when nothing is open */
    uint64_t model_gen;                /* tags job results with the model they belong to */
    bool kurt_pending;

    /* settings and their result */
    ls_settings settings;
    bool has_manual;
    unsigned char manual[APP_N_FLAGS];
    ls_analysis *an;
    bool an_ok;

    /* view */
    app_screen screen;
    int module, sel_layer, scroll;
    bool heatmap, log_scale;
    int help_scroll;
    wg_style style;
    wg_theme theme;
    wg_layout layout;
    wg_prompt prompt;
    bool confirm_quit;
    char msg[512];
    bool msg_error;

    /* histogram screen */
    bool hist_pending;
    int hist_layer, hist_module;
    ls_histogram *hist; /* owned */

    /* jobs */
    ls_jobs *jobs;
    ls_job_info job[APP_MAX_JOBS];
    int n_jobs, job_sel;
    uint64_t jobs_gen;

    app_undo undo[APP_UNDO_MAX];
    int n_undo;

    char config_path[1024];
    ls_uiconfig config;
    bool quit;
} app;

/* Sets up state (no terminal work). Returns -1 when the job thread cannot start. */
int app_init(app *a, const ls_options *o, const ui_args *args, ls_error *err);
void app_free(app *a);

/* Opens a model or profile. On failure the current one stays open (when there is one)
 * and the message is returned in err. */
int app_open(app *a, const char *path, ls_error *err);

/* Re-runs detection and allocation for the current settings (UI thread; microseconds). */
void app_analyze(app *a);

/* Records the current settings for undo, before a change. */
void app_push_undo(app *a);
bool app_pop_undo(app *a);

/* Status-line message until the next key. */
void app_msg(app *a, bool error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Jobs: start the kurtosis / histogram job; integrate finished results. Returns true when
 * something changed on screen. */
void app_start_kurtosis(app *a);
void app_start_histogram(app *a);
bool app_poll_jobs(app *a);

/* The saved config from the current state. */
void app_save_config(app *a);

int app_n_layers(const app *a);

#endif
