/* The one key table. It drives dispatch (explorer.c), the help screen and the status-line
 * hints (view_panels.c), --list-keys, and through --list-keys the test that the man page
 * documents every key. KEY(code, label, action, hint, help): hint is the status-line text
 * (NULL: not shown there), help the help-screen text. */
#ifndef TUI_KEYS_H
#define TUI_KEYS_H

#include <curses.h>

#define LS_ACTIONS(A)                                                                    \
    A(UP) A(DOWN) A(PGUP) A(PGDN) A(TOP) A(BOTTOM) A(NEXT_MOD) A(PREV_MOD) A(MODULE)     \
    A(HEATMAP) A(LOG) A(TOPM_UP) A(TOPM_DOWN) A(STOP_DOWN) A(STOP_UP) A(DIFF) A(METHOD)  \
    A(BASE_DOWN) A(BASE_UP) A(TOGGLE) A(DRAW) A(UNDO) A(EXPORT) A(HIST) A(QUANT) A(PPL)  \
    A(SENSI) A(SAVE_QUANT) A(SENSI_CSV) A(SESSION_SAVE) A(SESSION_LOAD) A(CANCEL)        \
    A(COMPUTE)                                                                           \
    A(JOB_NEXT) A(OPEN) A(THEME) A(HELP) A(REDRAW) A(QUIT) A(MOUSE)

typedef enum ls_action {
#define ACT_ENUM(n) ACT_##n,
    LS_ACTIONS(ACT_ENUM)
#undef ACT_ENUM
    ACT_COUNT
} ls_action;

#define LS_KEYS(KEY)                                                                        \
    KEY(KEY_UP, "Up", ACT_UP, NULL, "select the previous layer")                            \
    KEY('k', "k", ACT_UP, NULL, "select the previous layer")                                \
    KEY(KEY_DOWN, "Down", ACT_DOWN, NULL, "select the next layer")                          \
    KEY('j', "j", ACT_DOWN, NULL, "select the next layer")                                  \
    KEY(KEY_PPAGE, "PgUp", ACT_PGUP, NULL, "move a page up")                                \
    KEY(KEY_NPAGE, "PgDn", ACT_PGDN, NULL, "move a page down")                              \
    KEY(KEY_HOME, "Home", ACT_TOP, NULL, "first layer")                                     \
    KEY('g', "g", ACT_TOP, NULL, "first layer")                                             \
    KEY(KEY_END, "End", ACT_BOTTOM, NULL, "last layer")                                     \
    KEY('G', "G", ACT_BOTTOM, NULL, "last layer")                                           \
    KEY('\t', "Tab", ACT_NEXT_MOD, "Tab:module", "next module type (q k v o gate up down)") \
    KEY(KEY_RIGHT, "Right", ACT_NEXT_MOD, NULL, "next module type")                         \
    KEY(KEY_BTAB, "S-Tab", ACT_PREV_MOD, NULL, "previous module type")                      \
    KEY(KEY_LEFT, "Left", ACT_PREV_MOD, NULL, "previous module type")                       \
    KEY('1', "1", ACT_MODULE, NULL, "module type 1 .. 7: q k v o gate up down")                                        \
    KEY('2', "2", ACT_MODULE, NULL, "module type 1 .. 7: q k v o gate up down")                                        \
    KEY('3', "3", ACT_MODULE, NULL, "module type 1 .. 7: q k v o gate up down")                                        \
    KEY('4', "4", ACT_MODULE, NULL, "module type 1 .. 7: q k v o gate up down")                                        \
    KEY('5', "5", ACT_MODULE, NULL, "module type 1 .. 7: q k v o gate up down")                                     \
    KEY('6', "6", ACT_MODULE, NULL, "module type 1 .. 7: q k v o gate up down")                                       \
    KEY('7', "7", ACT_MODULE, NULL, "module type 1 .. 7: q k v o gate up down")                                     \
    KEY('a', "a", ACT_HEATMAP, "a:heatmap", "toggle the heatmap of layers x 7 modules")    \
    KEY('l', "l", ACT_LOG, "l:log", "toggle linear / log bar scale")                        \
    KEY('+', "+", ACT_TOPM_UP, "+-:top-m", "top-m up: keep fewer outliers (0 = all)")      \
    KEY('=', "=", ACT_TOPM_UP, NULL, "top-m up (same as +)")                                \
    KEY('-', "-", ACT_TOPM_DOWN, NULL, "top-m down (0 = all outliers)")                     \
    KEY('[', "[", ACT_STOP_DOWN, "[]:stop", "boost stop down (1 .. 11)")                    \
    KEY(']', "]", ACT_STOP_UP, NULL, "boost stop up (1 .. 11)")                             \
    KEY('d', "d", ACT_DIFF, "d:diff", "difference mode: paired, subtract, divide")          \
    KEY('m', "m", ACT_METHOD, "m:method", "method: sensi, kurt, both, manual")              \
    KEY('b', "b", ACT_BASE_DOWN, "bB:base", "base config one stop down (12 stops)")         \
    KEY('B', "B", ACT_BASE_UP, NULL, "base config one stop up (12 stops)")                  \
    KEY(' ', "Space", ACT_TOGGLE, "Spc:boost",                                              \
        "toggle a manual boost on the selected layer and module (method becomes manual)")   \
    KEY('r', "r", ACT_DRAW, "r:ablate", "new seeded ablation draw (random layers, same count)") \
    KEY('u', "u", ACT_UNDO, "u:undo", "undo the last change")                               \
    KEY('e', "e", ACT_EXPORT, "e:export", "export the allocation as JSON (asks for a path)") \
    KEY('h', "h", ACT_HIST, "h:hist", "weight histogram of the selected matrix (log counts)") \
    KEY('Q', "Q", ACT_QUANT, "Q:quant",                                                 \
        "HQQ-quantize with the current allocation (job; unchanged modules are reused)")    \
    KEY('w', "w", ACT_SAVE_QUANT, NULL,                                                    \
        "write the quantized model to a directory (asks for a path)")                      \
    KEY('P', "P", ACT_PPL, NULL,                                                           \
        "perplexity: fp, base and current allocation (job; default text samples/eval.txt)") \
    KEY('S', "S", ACT_SENSI, NULL,                                                         \
        "measure activation sensitivity (job; default text samples/calib.txt)")            \
    KEY('C', "C", ACT_COMPUTE, NULL,                                                       \
        "compute mode of the next P and S jobs: f32 (reference) / bf16 (oneDNN)")          \
    KEY('E', "E", ACT_SENSI_CSV, NULL,                                                     \
        "export the measured sensitivity as the toolkit CSV (asks for a path)")            \
    KEY('s', "s", ACT_SESSION_SAVE, "s:session",                                           \
        "save the session: model, settings, manual set, metrics, results (asks for a path)") \
    KEY('O', "O", ACT_SESSION_LOAD, NULL, "load a saved session (asks for a path)")        \
    KEY('c', "c", ACT_CANCEL, "c:cancel", "cancel the selected job")                        \
    KEY(27, "Esc", ACT_CANCEL, NULL, "cancel the selected job; closes help and prompts")    \
    KEY('J', "J", ACT_JOB_NEXT, NULL, "select the next job in the jobs panel")              \
    KEY('o', "o", ACT_OPEN, "o:open", "open a model or profile: a path, or pick one found (Up/Down)")    \
    KEY('t', "t", ACT_THEME, NULL, "colour theme: default, light, mono")                    \
    KEY('?', "?", ACT_HELP, "?:help", "this help screen")                                   \
    KEY(KEY_F(1), "F1", ACT_HELP, NULL, "this help screen")                                 \
    KEY(12, "^L", ACT_REDRAW, NULL, "redraw the screen")                                    \
    KEY('q', "q", ACT_QUIT, "q:quit", "quit (asks first when jobs are running)")            \
    KEY(KEY_MOUSE, "click", ACT_MOUSE, NULL, "select the layer under the mouse; wheel scrolls")

typedef struct ls_key {
    int code;
    const char *label;
    ls_action action;
    const char *hint;
    const char *help;
} ls_key;

extern const ls_key ls_keys[];
extern const int ls_n_keys;

/* The table entry of a key code, or NULL. */
const ls_key *ls_key_find(int code);

#endif
