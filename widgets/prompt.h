/* A one-line text prompt (path entry for open and export) and its editing operations. Which
 * key does what is the caller's (the explorer's key table); the editing logic needs no
 * terminal, so it is unit-tested directly. */
#ifndef WG_PROMPT_H
#define WG_PROMPT_H

#include <stdbool.h>

#include "draw.h"
#include "style.h"

typedef enum wg_prompt_op {
    WG_PROMPT_LEFT, WG_PROMPT_RIGHT, WG_PROMPT_HOME, WG_PROMPT_END,
    WG_PROMPT_BACKSPACE, WG_PROMPT_DELETE, WG_PROMPT_CLEAR,
    WG_PROMPT_TYPE /* insert the byte ch at the cursor when it is printable */
} wg_prompt_op;

typedef struct wg_prompt {
    bool active;
    int purpose;      /* caller-defined: what to do on accept */
    char title[96];
    char buf[1024];
    int len, cur;     /* bytes; the cursor moves by bytes over ASCII paths */
} wg_prompt;

void wg_prompt_open(wg_prompt *p, int purpose, const char *title, const char *initial);

/* One editing step; ch is used by WG_PROMPT_TYPE only. Accepting and cancelling are the
 * caller's: it reads buf and clears active. */
void wg_prompt_edit(wg_prompt *p, wg_prompt_op op, int ch);

/* Draws the prompt on one row of width w; places the cursor. */
void wg_prompt_draw(WINDOW *win, const wg_style *st, int y, int x, int w, const wg_prompt *p);

#endif
