/* The explorer's application state. Only the UI thread reads or writes it; background
 * jobs get copies or read-only pointers and hand results back through the job queue. */
#ifndef TUI_APP_H
#define TUI_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "eval/quality.h"
#include "eval/quality_run.h"
#include "method/analysis.h"
#include "method/frontier.h"
#include "method/histogram.h"
#include "base/jobs.h"
#include "layout.h"
#include "formats/model.h"
#include "cli/options.h"
#include "io/discover.h"
#include "picker.h"
#include "method/profile.h"
#include "prompt.h"
#include "quant/qmodel.h"
#include "io/session.h"
#include "style.h"
#include "uiargs.h"
#include "io/uiconfig.h"

/* Where `layerscope` with no argument looks first (issue 6 will ship a sample instead). */
#define LS_SAMPLE_MODEL "demo" /* under the samples directory (core/io/samples.h) */

#define APP_UNDO_MAX 64
#define APP_BUDGET_TIME_LIMIT 10.0 /* seconds for a budget solve on the UI thread */
#define APP_MAX_JOBS 8
#define APP_N_FLAGS (LS_MAX_LAYERS * LS_N_MODULES)

typedef enum app_screen {
    SCREEN_MAIN, SCREEN_HELP, SCREEN_HIST, SCREEN_FRONTIER, SCREEN_AGREE, SCREEN_SETS,
    SCREEN_DETECT, SCREEN_INPUTS, SCREEN_LEGEND
} app_screen;
typedef enum app_prompt {
    PROMPT_OPEN = 1,
    PROMPT_EXPORT,
    PROMPT_EXPORT_AS, /* X: KIND PATH */
    PROMPT_SAVE_QUANT,
    PROMPT_SAVE_SESSION,
    PROMPT_LOAD_SESSION,
    PROMPT_PPL_TEXT,
    PROMPT_SENSI_TEXT,
    PROMPT_SENSI_CSV,
    PROMPT_JUMP,
    PROMPT_TARGET,
    PROMPT_MEASURE_TEXT,
    PROMPT_INPUT, /* I: the job input a->inputs_sel */
} app_prompt;
typedef enum app_job_kind {
    JOB_KURTOSIS = 1,
    JOB_HISTOGRAM,
    JOB_QUANT,
    JOB_QSAVE,
    JOB_PPL,
    JOB_SENSI,
    JOB_FRONTIER,
    JOB_IMATRIX, /* the imatrix-weighted HQQ error (tui/app_imatrix.c) */
    JOB_MEASURE, /* the measured ΔKL (tui/app_measure.c) */
} app_job_kind;

/* Default texts for P and S (the bundled samples); a prompt asks when they are missing. */
#define LS_SAMPLE_EVAL_TEXT "eval.txt"
#define LS_SAMPLE_CALIB_TEXT "calib.txt"

/* The job inputs (I, tui/app_inputs.c): what P, S, M and F run on. */
enum {
    APP_INPUT_EVAL,     /* P, M, F */
    APP_INPUT_CALIB,    /* S */
    APP_INPUT_PROTOCOL, /* P, F */
    APP_INPUT_CTX,      /* P, M, F */
    APP_INPUT_COMPUTE,  /* P, S, F */
    APP_INPUT_COUNT
};
typedef struct app_inputs {
    char eval[1024], calib[1024]; /* "" = none found: the job asks for a file */
    int protocol;                 /* enum ls_ppl_protocol */
    int ctx;                      /* 0 = the protocol's default */
    int compute;                  /* enum ls_compute */
} app_inputs;

/* Reactions an action asks for, instead of calling each other. */
enum {
    R_NONE = 0,
    R_REDRAW = 1 << 0,
    R_ANALYZE = 1 << 1, /* settings changed: re-run detection and allocation */
    R_QUIT = 1 << 2,
};

/* A finished job as the jobs panel keeps it: its numbers stay with it, however many jobs
 * come after (full text, and a shorter form for narrow panels). */
#define APP_HISTORY 16
typedef struct app_done_job {
    int id, kind;
    char name[48];
    ls_job_state state;
    double elapsed;
    char full[768], brief[160];
} app_done_job;

typedef struct app_undo {
    ls_settings settings;
    bool has_manual;
    unsigned char manual[APP_N_FLAGS];
} app_undo;

typedef struct app {
    const ls_options *opts;
    const ui_args *args;
    int threads;
    app_inputs inputs;   /* I edits them; C toggles the compute */
    int inputs_sel;      /* the field under the cursor of the inputs screen */
    uint64_t inputs_gen; /* counts changes: F drops what it measured on other inputs */

    /* what is open */
    ls_model *model;     /* NULL for a profile or when nothing is open */
    ls_profile *profile; /* NULL when nothing is open */
    char path[1024];
    char load_error[LS_ERROR_MSG_MAX]; /* shown instead of the layers when nothing is open */
    uint64_t model_gen;                /* tags job results with the model they belong to */
    uint64_t fingerprint;              /* of what is open (ls_model_fingerprint, or the
                                          profile's): the key of session results */
    bool kurt_pending;
    bool measure_pending;              /* the M job runs */

    /* settings and their result */
    ls_settings settings;
    bool settings_restored; /* they came from the config file (said on screen; R resets) */
    bool has_manual;
    unsigned char manual[APP_N_FLAGS];
    ls_analysis *an;
    bool an_ok;

    /* view */
    app_screen screen;
    int module, sel_layer, scroll;
    bool heatmap, log_scale;
    int kurt_scale; /* KSCALE_* of view.h: how kurtosis bars are scaled (K) */
    int sets_sel;   /* boosted list screen (L): the entry under the cursor */
    bool only_outliers; /* f: the list shows only layers flagged in the selected module */
    int sort_key;       /* v: the list's order, SORT_* of view.h */
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

    /* quantization. The qmodel moves into a Q, save or P job and comes back in its result
     * (also when cancelled: finished modules stay reusable); the view reads only the copies
     * below, so it never touches a qmodel a job holds. */
    ls_qmodel *qm;                   /* NULL before the first Q or while a job holds it */
    bool qm_busy;                    /* a job holds it */
    bool q_known;                    /* q_err / q_stop hold results */
    double q_err[APP_N_FLAGS];       /* ||W - deq(Q(W))||_F per module */
    signed char q_stop[APP_N_FLAGS]; /* the stop it was quantized with; -1 none */
    ls_qtotals q_tot;                /* totals of the qmodel as handed back */
    int q_job_id, q_new;             /* the job the totals belong to; modules it quantized */
    double q_seconds;
    bool q_quant_meta;

    /* perplexity (P): the last comparison, shown in the jobs panel */
    int ppl_job_id;
    bool ppl_known;
    double ppl_fp, ppl_base, ppl_cur, ppl_delta_pct, ppl_mem_pct, ppl_tok_s;
    int ppl_compute;     /* enum ls_compute the shown perplexities were computed in */
    int ppl_protocol, ppl_ctx; /* and the protocol and window they used */
    uint64_t ppl_text_hash, ppl_alloc_hash; /* the text's bytes and the allocations compared */
    char ppl_text[1024];
    /* P's measures against fp (issue 10): KLD and same top of base and current, the verdict,
     * and per layer the current allocation's error ("error in" column of the main panel) */
    bool kld_known;
    ls_quality_stats kld_base, kld_cur;
    char kld_verdict[256];
    char kld_info[160];              /* tokens, why it stopped, reference cached, coarsened */
    bool layer_err_known;
    int layer_err_n;
    double layer_rel[LS_MAX_LAYERS], layer_cos[LS_MAX_LAYERS];
    double precision;                /* P's sequential stop (p); 0 = off */
    /* sensitivity (S): the last measurement, kept for the CSV export */
    void *sensi;                     /* ls_sensi_result *, owned; NULL when none */
    uint64_t sensi_gen;

    /* model picker of the open prompt (o) */
    ls_found_list found;
    wg_picker picker;

    /* jobs: the queue's active ones, and a history of finished ones (newest first) with
     * the result each had when it finished (tui/app_jobs.c) */
    ls_jobs *jobs;
    ls_job_info job[APP_MAX_JOBS];
    int n_jobs, job_sel;
    uint64_t jobs_gen;
    app_done_job history[APP_HISTORY];
    int n_history;
    char job_full[768], job_short[160]; /* set by a take function: the result it took */

    /* footer: the page of key hints shown, and where the last frame drew each hint and
     * module tab (for mouse clicks; written by the view) */
    int footer_page, n_footer_pages;
    struct {
        int x0, x1, code;
    } footer_hit[48];
    int n_footer_hit;
    int tab_x[LS_N_MODULES + 1]; /* tab m spans tab_x[m] .. tab_x[m+1]-1 */

    app_undo undo[APP_UNDO_MAX];
    int n_undo;
    app_undo redo[APP_UNDO_MAX]; /* what undo took back; a new change clears it */
    int n_redo;

    char config_path[1024];
    ls_uiconfig config;
    bool quit;

    /* budget target (T < >) and the memory-quality frontier (F): tui/app_budget.c */
    void *frontier; /* app_frontier *, owned; NULL before the first F */
} app;

/* Sets up state (no terminal work). Returns -1 when the job thread cannot start. */
int app_init(app *a, const ls_options *o, const ui_args *args, ls_error *err);
void app_free(app *a);

/* Opens a model or profile. On failure the current one stays open (when there is one)
 * and the message is returned in err. */
int app_open(app *a, const char *path, ls_error *err);

/* Opens path with a session's state: its manual set (when from_cmdline, unless --manual
 * was given), its settings (when from_cmdline, unless settings were given), and its
 * metrics when the model's fingerprint matches (else a status-line warning). */
int app_open_session(app *a, const char *path, const ls_session *s, bool from_cmdline,
                     ls_error *err);

/* Session file save / load (tui/app_session.c). Messages go to the status line. */
void app_save_session(app *a, const char *path);
void app_load_session(app *a, const char *path);
/* After a session's model is open and analysed: its selection and job inputs, and the
 * results whose key still holds (HQQ errors, the perplexity comparison); the others are
 * named on the status line. */
void app_restore_results(app *a, const ls_session *s);
/* The key of a P result's allocations: the base config everywhere and the one on screen
 * (requires an_ok). */
uint64_t app_alloc_hash(const app *a);

/* Quantization (tui/app_quant.c): start Q, save the quantized model, take results. */
void app_start_quantize(app *a);
void app_start_save_quant(app *a, const char *dir);
bool app_take_quant(app *a, const ls_job_info *info, void *res);
/* Modules whose config changed since they were quantized (selected module of a row). */
bool app_q_stale(const app *a, int i);
/* Takes a qmodel back from a job (NULL: none) and refreshes the per-module copies. */
void app_q_return(app *a, ls_qmodel *qm);
/* Drops the qmodel and its copies (a new model was opened). UI thread, no job holds it. */
void app_q_reset(app *a);

/* Perplexity and sensitivity (tui/app_eval.c). */
void app_start_ppl(app *a, const char *text);
void app_start_sensi(app *a, const char *text);
void app_save_sensi_csv(app *a, const char *path);
bool app_take_eval(app *a, const ls_job_info *info, void *res);
/* The jobs panel's text of the P result in a (full, with what it ran on; brief). */
void app_ppl_lines(const app *a, char *full, size_t full_cap, char *brief, size_t brief_cap);
void app_eval_reset(app *a);

/* Job inputs (tui/app_inputs.c). */
void app_inputs_init(app *a); /* from the options and the bundled sample texts */
const char *app_input_name(int field);  /* "evaluation text", "ctx", ... */
const char *app_input_users(int field); /* the jobs that use it: "P, M, F" */
void app_input_value(const app *a, int field, char *buf, size_t cap);
/* 0 when path is a readable regular file, else -1 and why (the reason, not the path). */
int app_input_check_text(const char *path, char *why, size_t cap);
/* The status line refusing path for field: "NAME PATH: WHY AFTER", the path shortened to
 * ".../its/end" so the line fits the screen. */
void app_input_refused(app *a, int field, const char *path, const char *why, const char *after);
/* Checks and sets a field from text; a bad value says why with "(unchanged)". */
bool app_input_set(app *a, int field, const char *text);
/* Opens the prompt that edits a field (PROMPT_INPUT). */
void app_input_edit(app *a, int field);
/* The protocol and the compute take the next of their two values. */
void app_input_cycle(app *a, int field);
/* P's and F's quality-run parameters: the options' with the inputs' protocol, ctx, compute. */
ls_quality_params app_inputs_quality(const app *a);
/* "[on eval.txt, paper ctx 256, f32]": what a P result ran on. */
void app_inputs_tag(const char *text, int protocol, int ctx, int compute, char *buf,
                    size_t cap);

/* Budget methods and the frontier (tui/app_budget.c). */
/* Parses a target: "3.3" (bpp), "2500M"/"2500MiB" (MiB), "+5%"/"5%" (extra over the
 * base); switches to mxq (or sensi-milp without fnorm) when a boost method is on. */
void app_set_target(app *a, const char *text);
/* One step down (-1) or up (+1). */
void app_step_target(app *a, int dir);
/* The method after the current one for m (skips budget methods the profile cannot run,
 * gives a budget method a target at the current memory). */
void app_next_method(app *a);
/* F: builds the frontier at the current settings and measures the points not cached. */
void app_start_frontier(app *a);
bool app_take_frontier(app *a, const ls_job_info *info, void *res);
void app_frontier_free(app *a);
/* Drops the measured points (a new model was opened). */
void app_frontier_reset(app *a);
/* The frontier on screen (NULL before F), the unquantized PPL (NaN until measured) and
 * whether a point job is running. */
const ls_frontier *app_frontier_view(const app *a, double *fp_ppl, bool *busy);

/* The model picker (tui/app_picker.c): discovery into a->found, and the open prompt. */
void app_open_picker(app *a);
/* The picker keys of the open prompt move the selection into the path (false: the picker
 * is closed or empty). page = visible rows. */
bool app_picker_move(app *a, wg_picker_op op, int page);
/* The picker's row text (wg_picker_label_fn over a->found). */
void app_picker_label(void *ctx, int i, char *buf, size_t cap);

/* Re-runs detection and allocation for the current settings (UI thread; microseconds). */
void app_analyze(app *a);

/* Records the current settings for undo, before a change. */
void app_push_undo(app *a);
bool app_pop_undo(app *a);
/* Redo: re-applies what the last undo took back (false: nothing to redo). */
bool app_redo(app *a);

/* Status-line message until the next key. */
void app_msg(app *a, bool error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Jobs: start the kurtosis / histogram job; integrate finished results. Returns true when
 * something changed on screen. */
void app_start_kurtosis(app *a);
void app_start_histogram(app *a);
bool app_poll_jobs(app *a);

/* Jobs panel bookkeeping (tui/app_jobs.c). A take function states what its job produced
 * (full and short form); the poll records it with the job in the history. */
void app_job_result(app *a, const char *full, const char *brief);
void app_history_add(app *a, const ls_job_info *info);
/* True (and a status-line note) when a job of this kind is queued or running: Q, P, S and
 * w are not started twice. */
bool app_job_already(app *a, int kind, const char *what);
/* Rows of the jobs panel: active jobs first, then the history. */
int app_job_rows(const app *a);
/* --imatrix FILE on the model just opened: act_energy at once, the imatrix error as a job
 * (tui/app_imatrix.c). Returns -1 with err on a bad file. */
int app_open_imatrix(app *a, ls_error *err);
bool app_take_imatrix(app *a, const ls_job_info *info, void *res);
/* M: the measured ΔKL job on text (tui/app_measure.c). */
void app_start_measure(app *a, const char *text);
bool app_take_measure(app *a, const ls_job_info *info, void *res);

/* The saved config from the current state. */
void app_save_config(app *a);

int app_n_layers(const app *a);

#endif
