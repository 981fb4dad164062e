/* The one key table, for every mode of the explorer. It drives dispatch (actions.c), the
 * help screen and the status-line hints (view_panels.c), --list-keys, and through
 * --list-keys the test that the man page's KEYS section matches it both ways.
 * KEY(context, code, label, action, hint, help): context is the mode the row applies in,
 * hint the status-line text (NULL: not shown there), help the help-screen text (the man
 * page's paragraph starts with it). No key is handled anywhere else, except KEY_RESIZE,
 * a terminal event that only redraws. */
#ifndef TUI_KEYS_H
#define TUI_KEYS_H

#include <curses.h>

#define LS_ACTIONS(A)                                                                    \
    A(PRECISION)                                                                         \
    A(UP) A(DOWN) A(PGUP) A(PGDN) A(TOP) A(BOTTOM) A(NEXT_MOD) A(PREV_MOD) A(MODULE)     \
    A(HEATMAP) A(LOG) A(TOPM_UP) A(TOPM_DOWN) A(STOP_DOWN) A(STOP_UP) A(DIFF) A(METHOD)  \
    A(BASE_DOWN) A(BASE_UP) A(TOGGLE) A(DRAW) A(UNDO) A(EXPORT) A(HIST) A(QUANT) A(PPL)  \
    A(SENSI) A(SAVE_QUANT) A(SENSI_CSV) A(SESSION_SAVE) A(SESSION_LOAD) A(CANCEL)        \
    A(COMPUTE)                                                                           \
    A(JOB_NEXT) A(OPEN) A(THEME) A(HELP) A(REDRAW) A(QUIT) A(MOUSE)                      \
    A(HIST_CLOSE) A(HELP_UP) A(HELP_DOWN) A(HELP_PGUP) A(HELP_PGDN) A(HELP_CLOSE)       \
    A(FOOTER_MORE) A(KURT_SCALE) A(REDO) A(JUMP) A(SETS) A(SETS_UP) A(SETS_DOWN)   \
    A(SETS_GO) A(SETS_CLOSE) A(RESET) A(FILTER) A(SORT) A(SENSI_DATASET) A(SENSI_CONFIG) A(EXPORT_AS) A(DETECT) A(DETECT_CLOSE) A(QUIT_YES) A(QUIT_NO) A(PICK_UP) A(PICK_DOWN) A(PICK_PGUP) A(PICK_PGDN)            \
    A(PROMPT_ACCEPT) A(PROMPT_CANCEL) A(PROMPT_LEFT) A(PROMPT_RIGHT) A(PROMPT_HOME)     \
    A(PROMPT_END) A(PROMPT_BACKSPACE) A(PROMPT_DELETE) A(PROMPT_CLEAR) A(PROMPT_TYPE) \
    A(TARGET) A(TARGET_DOWN) A(TARGET_UP) A(FRONTIER) \
    A(AGREE) A(MEASURE) A(INPUTS) A(INPUTS_UP) A(INPUTS_DOWN) A(INPUTS_EDIT) A(INPUTS_NEXT) A(LEGEND)

typedef enum ls_action {
#define ACT_ENUM(n) ACT_##n,
    LS_ACTIONS(ACT_ENUM)
#undef ACT_ENUM
    ACT_COUNT
} ls_action;

/* The modes, in help-screen order: CTX(name, title, parent). A key not in its mode's rows
 * (nor its "other" row) is looked up in the parent mode. The titles are the man page's
 * subsection names. */
#define LS_KEY_CONTEXTS(CTX)                                                                 \
    CTX(MAIN, "Main screen", CTX_NONE)                                                       \
    CTX(HIST, "Histogram screen", CTX_MAIN)                                                  \
    CTX(SETS, "Boosted list screen", CTX_NONE)                                               \
    CTX(DETECT, "Detection screen", CTX_MAIN)                                                \
    CTX(INPUTS, "Job inputs screen", CTX_MAIN)                                               \
    CTX(LEGEND, "Legend screen", CTX_MAIN)                                                   \
    CTX(FRONTIER, "Frontier screen", CTX_MAIN)                                               \
    CTX(AGREE, "Agreement screen", CTX_MAIN)                                                 \
    CTX(HELP, "Help screen", CTX_NONE)                                                       \
    CTX(CONFIRM, "Quit confirmation", CTX_NONE)                                              \
    CTX(PICKER, "Model picker", CTX_PROMPT)                                                  \
    CTX(PROMPT, "Prompt", CTX_NONE)

typedef enum ls_key_context {
    CTX_NONE = -1,
#define CTX_ENUM(n, title, parent) CTX_##n,
    LS_KEY_CONTEXTS(CTX_ENUM)
#undef CTX_ENUM
    CTX_COUNT
} ls_key_context;

/* The code of a mode's "other" row: every key that mode has no row for. */
#define LS_KEY_OTHER (-2)

#define LS_KEYS(KEY)                                                                        \
    KEY(MAIN, KEY_UP, "Up", ACT_UP, NULL, "select the previous layer")                            \
    KEY(MAIN, 'k', "k", ACT_UP, NULL, "select the previous layer")                                \
    KEY(MAIN, KEY_DOWN, "Down", ACT_DOWN, NULL, "select the next layer")                          \
    KEY(MAIN, 'j', "j", ACT_DOWN, NULL, "select the next layer")                                  \
    KEY(MAIN, KEY_PPAGE, "PgUp", ACT_PGUP, NULL, "move a page up")                                \
    KEY(MAIN, KEY_NPAGE, "PgDn", ACT_PGDN, NULL, "move a page down")                              \
    KEY(MAIN, KEY_HOME, "Home", ACT_TOP, NULL, "first layer")                                     \
    KEY(MAIN, 'g', "g", ACT_TOP, NULL, "first layer")                                             \
    KEY(MAIN, KEY_END, "End", ACT_BOTTOM, NULL, "last layer")                                     \
    KEY(MAIN, 'G', "G", ACT_BOTTOM, NULL, "last layer")                                           \
    KEY(MAIN, '\t', "Tab", ACT_NEXT_MOD, "Tab:module", "next module type (q k v o gate up down)") \
    KEY(MAIN, KEY_RIGHT, "Right", ACT_NEXT_MOD, NULL, "next module type")                         \
    KEY(MAIN, KEY_BTAB, "S-Tab", ACT_PREV_MOD, NULL, "previous module type")                      \
    KEY(MAIN, KEY_LEFT, "Left", ACT_PREV_MOD, NULL, "previous module type")                       \
    KEY(MAIN, '1', "1", ACT_MODULE, NULL, "module type 1 .. 7: q k v o gate up down")                                        \
    KEY(MAIN, '2', "2", ACT_MODULE, NULL, "module type 1 .. 7: q k v o gate up down")                                        \
    KEY(MAIN, '3', "3", ACT_MODULE, NULL, "module type 1 .. 7: q k v o gate up down")                                        \
    KEY(MAIN, '4', "4", ACT_MODULE, NULL, "module type 1 .. 7: q k v o gate up down")                                        \
    KEY(MAIN, '5', "5", ACT_MODULE, NULL, "module type 1 .. 7: q k v o gate up down")                                     \
    KEY(MAIN, '6', "6", ACT_MODULE, NULL, "module type 1 .. 7: q k v o gate up down")                                       \
    KEY(MAIN, '7', "7", ACT_MODULE, NULL, "module type 1 .. 7: q k v o gate up down")                                     \
    KEY(MAIN, 'a', "a", ACT_HEATMAP, "a:heatmap", "toggle the heatmap of layers x 7 modules")    \
    KEY(MAIN, 'l', "l", ACT_LOG, "l:log", "toggle linear / log scale of the sensitivity and error bars")                        \
    KEY(MAIN, '+', "+", ACT_TOPM_UP, "+-:top-m", "top-m up: keep fewer outliers (0 = all)")      \
    KEY(MAIN, '=', "=", ACT_TOPM_UP, NULL, "top-m up (same as +)")                                \
    KEY(MAIN, '-', "-", ACT_TOPM_DOWN, NULL, "top-m down (0 = all outliers)")                     \
    KEY(MAIN, '[', "[", ACT_STOP_DOWN, "[]:stop", "boost stop down (1 .. 11)")                    \
    KEY(MAIN, ']', "]", ACT_STOP_UP, NULL, "boost stop up (1 .. 11)")                             \
    KEY(MAIN, 'd', "d", ACT_DIFF, "d:diff", "difference mode: paired, subtract, divide")          \
    KEY(MAIN, 'm', "m", ACT_METHOD, "m:method",                                                   \
        "method: sensi, kurt, both, manual, then the budget methods mxq, sensi-milp, kurt-milp") \
    KEY(MAIN, 'b', "b", ACT_BASE_DOWN, "bB:base", "base config one stop down (12 stops)")         \
    KEY(MAIN, 'B', "B", ACT_BASE_UP, NULL, "base config one stop up (12 stops)")                  \
    KEY(MAIN, ' ', "Space", ACT_TOGGLE, "Spc:boost",                                              \
        "toggle a manual boost on the selected layer and module (method becomes manual)")   \
    KEY(MAIN, 'r', "r", ACT_DRAW, "r:ablate", "new seeded ablation draw (random layers, same count)") \
    KEY(MAIN, 'u', "u", ACT_UNDO, "u:undo", "undo the last change")                               \
    KEY(MAIN, 'e', "e", ACT_EXPORT, "e:export", "export the allocation as JSON (asks for a path)") \
    KEY(MAIN, 'h', "h", ACT_HIST, "h:hist", "weight histogram of the selected matrix (log counts)") \
    KEY(MAIN, 'A', "A", ACT_AGREE, NULL,                                                         \
        "agreement of the metric columns: Spearman rank correlation and top-N overlap")    \
    KEY(MAIN, 'M', "M", ACT_MEASURE, NULL,                                                       \
        "measured dKL: each matrix alone at the base config vs fp (job; resumable; "        \
        "on the evaluation text of I)")                                                     \
    KEY(MAIN, 'Q', "Q", ACT_QUANT, "Q:quant",                                                 \
        "HQQ-quantize with the current allocation (job; unchanged modules are reused)")    \
    KEY(MAIN, 'w', "w", ACT_SAVE_QUANT, "w:write",                                                    \
        "write the quantized model to a directory (asks for a path)")                      \
    KEY(MAIN, 'P', "P", ACT_PPL, "P:ppl",                                                           \
        "perplexity, KLD and same top: fp, base, current (job; on the job inputs of I)")    \
    KEY(MAIN, 'p', "p", ACT_PRECISION, NULL,                                               \
        "P's sequential stop: off, 0.2, 0.1, 0.05 (95 % half-width of the KLD change)")    \
    KEY(MAIN, 'S', "S", ACT_SENSI, "S:sensi",                                                         \
        "measure activation sensitivity (job; on the calibration text of I)")              \
    KEY(MAIN, 'C', "C", ACT_COMPUTE, NULL,                                                 \
        "compute mode of the next P, S, M and F jobs: f32 (reference) / bf16 (oneDNN)")    \
    KEY(MAIN, 'E', "E", ACT_SENSI_CSV, "E:csv",                                                     \
        "export the measured sensitivity as the toolkit CSV (asks for a path)")            \
    KEY(MAIN, 's', "s", ACT_SESSION_SAVE, "s:session",                                           \
        "save the session: model, settings, manual set, metrics, results (asks for a path)") \
    KEY(MAIN, 'O', "O", ACT_SESSION_LOAD, "O:load", "load a saved session (asks for a path)")        \
    KEY(MAIN, 'c', "c", ACT_CANCEL, "c:cancel", "cancel the selected job")                        \
    KEY(MAIN, 27, "Esc", ACT_CANCEL, NULL, "cancel the selected job")                             \
    KEY(MAIN, 'J', "J", ACT_JOB_NEXT, "J:job", "select the next job in the jobs panel")              \
    KEY(MAIN, 'o', "o", ACT_OPEN, "o:open", "open a model or profile: a path, or pick one found (Up/Down)")    \
    KEY(MAIN, 't', "t", ACT_THEME, "t:theme", "colour theme: default, light, mono")                    \
    KEY(MAIN, 'T', "T", ACT_TARGET, "T:target",                                                  \
        "budget target (asks): 3.3 = bpp, 2500M = MiB, +5% = over the base; method mxq")  \
    KEY(MAIN, '<', "<", ACT_TARGET_DOWN, NULL,                                                \
        "budget target one step down (0.05 bpp, 0.5 % extra, or 1 % of the base MiB)")     \
    KEY(MAIN, '>', ">", ACT_TARGET_UP, NULL, "budget target one step up")                         \
    KEY(MAIN, 'F', "F", ACT_FRONTIER, "F:frontier",                                              \
        "memory-quality frontier: plot and table (a job; l: log y)") \
    KEY(MAIN, '?', "?", ACT_HELP, "?:help", "this help screen")                                   \
    KEY(MAIN, KEY_F(1), "F1", ACT_HELP, NULL, "this help screen")                                 \
    KEY(MAIN, 12, "^L", ACT_REDRAW, NULL, "redraw the screen")                                    \
    KEY(MAIN, 'q', "q", ACT_QUIT, "q:quit", "quit (asks first when jobs are running)")            \
    KEY(MAIN, KEY_MOUSE, "click", ACT_MOUSE, NULL, "select the layer, module tab or footer key under the mouse; wheel scrolls") \
    KEY(MAIN, 18, "^R", ACT_REDO, "^R:redo", "redo what u undid")                       \
    KEY(MAIN, '/', "/", ACT_JUMP, "/:jump", "jump to a layer (asks for its number)")    \
    KEY(MAIN, 'z', "z", ACT_DETECT, "z:detect",                                         \
        "detection view of the module: d and z per layer, trimmed mean, +/-threshold band") \
    KEY(MAIN, 'f', "f", ACT_FILTER, "f:flagged",                                        \
        "show only layers flagged in the selected module (boosted or an outlier), or all")  \
    KEY(MAIN, 'v', "v", ACT_SORT, "v:sort",                                             \
        "cycle the layer list's order: by layer, by the metric, by |z| (largest first)")   \
    KEY(MAIN, 'X', "X", ACT_EXPORT_AS, "X:export as",                                  \
        "export as batch does: json, llamacpp, kurtosis-csv or metrics-csv (asks KIND PATH)") \
    KEY(MAIN, 'D', "D", ACT_SENSI_DATASET, "D:dataset",                                 \
        "next data set of the sensitivity CSV (same config), re-imported")               \
    KEY(MAIN, 'N', "N", ACT_SENSI_CONFIG, "N:config",                                   \
        "next config (bits, group) of the sensitivity CSV's data set, re-imported")     \
    KEY(MAIN, 'R', "R", ACT_RESET, "R:reset",                                           \
        "reset the settings to the paper's defaults (u undoes)")                           \
    KEY(MAIN, 'L', "L", ACT_SETS, "L:list",                                             \
        "list of every boosted matrix, and SensiBoost against KurtBoost as sets")        \
    KEY(MAIN, 'K', "K", ACT_KURT_SCALE, "K:kscale",                                     \
        "kurtosis bar scale: range (from min(3, smallest)), clip, log, zero; ':' marks 3") \
    KEY(MAIN, KEY_F(2), "F2", ACT_FOOTER_MORE, NULL,                                    \
        "next page of key hints in the footer (shown as F2:more when they do not all fit)") \
    KEY(MAIN, 'I', "I", ACT_INPUTS, "I:inputs",                                         \
        "job inputs: evaluation and calibration text, protocol, ctx, compute of P S M F") \
    KEY(MAIN, 'H', "H", ACT_LEGEND, "H:legend",                                         \
        "legend: every glyph and colour of the screens (boost, detection, tail, clip marks)") \
    KEY(HIST, 'h', "h", ACT_HIST_CLOSE, NULL, "close the histogram")                 \
    KEY(DETECT, 'z', "z", ACT_DETECT_CLOSE, NULL, "close the detection view")          \
    KEY(DETECT, 27, "Esc", ACT_DETECT_CLOSE, NULL, "close the detection view")         \
    KEY(INPUTS, KEY_UP, "Up", ACT_INPUTS_UP, NULL, "previous input")                  \
    KEY(INPUTS, 'k', "k", ACT_INPUTS_UP, NULL, "previous input")                      \
    KEY(INPUTS, KEY_DOWN, "Down", ACT_INPUTS_DOWN, NULL, "next input")                \
    KEY(INPUTS, 'j', "j", ACT_INPUTS_DOWN, NULL, "next input")                        \
    KEY(INPUTS, '\n', "Enter", ACT_INPUTS_EDIT, NULL, "type a new value for the input (checked)") \
    KEY(INPUTS, ' ', "Space", ACT_INPUTS_NEXT, NULL, "next value of the protocol or the compute") \
    KEY(INPUTS, 'I', "I", ACT_INPUTS, NULL, "close the job inputs")                   \
    KEY(INPUTS, 27, "Esc", ACT_INPUTS, NULL, "close the job inputs")                  \
    KEY(LEGEND, 'H', "H", ACT_LEGEND, NULL, "close the legend")                       \
    KEY(LEGEND, 27, "Esc", ACT_LEGEND, NULL, "close the legend")                      \
    KEY(SETS, KEY_UP, "Up", ACT_SETS_UP, NULL, "previous boosted matrix")             \
    KEY(SETS, 'k', "k", ACT_SETS_UP, NULL, "previous boosted matrix")                 \
    KEY(SETS, KEY_DOWN, "Down", ACT_SETS_DOWN, NULL, "next boosted matrix")           \
    KEY(SETS, 'j', "j", ACT_SETS_DOWN, NULL, "next boosted matrix")                   \
    KEY(SETS, '\n', "Enter", ACT_SETS_GO, NULL, "go to that layer and module on the main screen") \
    KEY(SETS, LS_KEY_OTHER, "other", ACT_SETS_CLOSE, NULL, "any other key closes the list") \
    KEY(HIST, 27, "Esc", ACT_HIST_CLOSE, NULL, "close the histogram")                 \
    KEY(FRONTIER, 'F', "F", ACT_FRONTIER, NULL, "close the frontier")             \
    KEY(FRONTIER, 27, "Esc", ACT_FRONTIER, NULL, "close the frontier")            \
    KEY(AGREE, 'A', "A", ACT_AGREE, NULL, "close the agreement table")            \
    KEY(AGREE, 27, "Esc", ACT_AGREE, NULL, "close the agreement table")           \
    KEY(HELP, KEY_UP, "Up", ACT_HELP_UP, NULL, "scroll up a line")                    \
    KEY(HELP, 'k', "k", ACT_HELP_UP, NULL, "scroll up a line")                        \
    KEY(HELP, KEY_DOWN, "Down", ACT_HELP_DOWN, NULL, "scroll down a line")            \
    KEY(HELP, 'j', "j", ACT_HELP_DOWN, NULL, "scroll down a line")                    \
    KEY(HELP, KEY_PPAGE, "PgUp", ACT_HELP_PGUP, NULL, "scroll up a page")             \
    KEY(HELP, KEY_NPAGE, "PgDn", ACT_HELP_PGDN, NULL, "scroll down a page")           \
    KEY(HELP, ' ', "Space", ACT_HELP_PGDN, NULL, "scroll down a page")                \
    KEY(HELP, LS_KEY_OTHER, "other", ACT_HELP_CLOSE, NULL, "any other key closes the help") \
    KEY(CONFIRM, 'y', "y", ACT_QUIT_YES, NULL, "quit, cancelling the running jobs")   \
    KEY(CONFIRM, 'Y', "Y", ACT_QUIT_YES, NULL, "quit, cancelling the running jobs")   \
    KEY(CONFIRM, 'q', "q", ACT_QUIT_YES, NULL, "quit, cancelling the running jobs")   \
    KEY(CONFIRM, LS_KEY_OTHER, "other", ACT_QUIT_NO, NULL, "any other key stays")     \
    KEY(PICKER, KEY_UP, "Up", ACT_PICK_UP, NULL,                                        \
        "choose the previous model found (from none: the last) into the path")        \
    KEY(PICKER, KEY_DOWN, "Down", ACT_PICK_DOWN, NULL, "choose the next model found into the path") \
    KEY(PICKER, KEY_PPAGE, "PgUp", ACT_PICK_PGUP, NULL, "choose a page up")            \
    KEY(PICKER, KEY_NPAGE, "PgDn", ACT_PICK_PGDN, NULL, "choose a page down")          \
    KEY(PROMPT, '\n', "Enter", ACT_PROMPT_ACCEPT, NULL, "accept the text")             \
    KEY(PROMPT, '\r', "^M", ACT_PROMPT_ACCEPT, NULL, "accept the text")                \
    KEY(PROMPT, KEY_ENTER, "KP-Enter", ACT_PROMPT_ACCEPT, NULL, "accept the text")      \
    KEY(PROMPT, 27, "Esc", ACT_PROMPT_CANCEL, NULL, "cancel the prompt")               \
    KEY(PROMPT, 7, "^G", ACT_PROMPT_CANCEL, NULL, "cancel the prompt")                 \
    KEY(PROMPT, KEY_LEFT, "Left", ACT_PROMPT_LEFT, NULL, "cursor left")                \
    KEY(PROMPT, KEY_RIGHT, "Right", ACT_PROMPT_RIGHT, NULL, "cursor right")            \
    KEY(PROMPT, KEY_HOME, "Home", ACT_PROMPT_HOME, NULL, "cursor to the start")        \
    KEY(PROMPT, 1, "^A", ACT_PROMPT_HOME, NULL, "cursor to the start")                 \
    KEY(PROMPT, KEY_END, "End", ACT_PROMPT_END, NULL, "cursor to the end")             \
    KEY(PROMPT, 5, "^E", ACT_PROMPT_END, NULL, "cursor to the end")                    \
    KEY(PROMPT, KEY_BACKSPACE, "Backspace", ACT_PROMPT_BACKSPACE, NULL,                \
        "delete the character before the cursor")                                      \
    KEY(PROMPT, 127, "^?", ACT_PROMPT_BACKSPACE, NULL, "delete the character before the cursor") \
    KEY(PROMPT, 8, "^H", ACT_PROMPT_BACKSPACE, NULL, "delete the character before the cursor") \
    KEY(PROMPT, KEY_DC, "Del", ACT_PROMPT_DELETE, NULL, "delete the character at the cursor") \
    KEY(PROMPT, 4, "^D", ACT_PROMPT_DELETE, NULL, "delete the character at the cursor") \
    KEY(PROMPT, 21, "^U", ACT_PROMPT_CLEAR, NULL, "clear the text")                    \
    KEY(PROMPT, LS_KEY_OTHER, "other", ACT_PROMPT_TYPE, NULL,                          \
        "a printable key types its character; others do nothing")

typedef struct ls_key {
    ls_key_context context;
    int code;
    const char *label;
    ls_action action;
    const char *hint;
    const char *help;
} ls_key;

extern const ls_key ls_keys[];
extern const int ls_n_keys;

/* The row of a key code in a mode: its own row, else the mode's "other" row, else the
 * parent mode's; NULL when none. */
const ls_key *ls_key_find(ls_key_context context, int code);

/* The title of a mode (the man page's subsection). */
const char *ls_key_context_title(ls_key_context context);

#endif
