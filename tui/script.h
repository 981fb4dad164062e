/* --script FILE: keys for a scripted run, one whitespace-separated token each: a single
 * character, a key name (Tab BTab Enter Esc Space Up Down Left Right PgUp PgDn Home End F1
 * Backspace C-u C-l), text:STRING (typed), or a command: wait (until no job runs), dump (append the
 * screen to --dump-screen), resize:COLSxROWS, click:ROW,COL. '#' starts a comment line. */
#ifndef TUI_SCRIPT_H
#define TUI_SCRIPT_H

#include <stdbool.h>

typedef enum script_op { SOP_KEY, SOP_WAIT, SOP_DUMP, SOP_RESIZE, SOP_CLICK } script_op;

typedef struct script_step {
    script_op op;
    int key;  /* SOP_KEY */
    int a, b; /* resize: cols, rows; click: row, col */
} script_step;

typedef struct script {
    script_step *steps;
    int n, pos;
} script;

/* Returns -1 with a message naming the file and token on a bad token. */
int script_load(const char *path, script *s, char *err, int cap);
void script_free(script *s);
bool script_next(script *s, script_step *out);

#endif
