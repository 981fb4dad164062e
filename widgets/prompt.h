/* A one-line text prompt (path entry for open and export) and its key handling. The
 * editing logic needs no terminal, so it is unit-tested directly. */
#ifndef WG_PROMPT_H
#define WG_PROMPT_H

#include <stdbool.h>

#include "draw.h"
#include "style.h"

typedef enum wg_prompt_result { WG_PROMPT_EDITING, WG_PROMPT_ACCEPT, WG_PROMPT_CANCEL } wg_prompt_result;

typedef struct wg_prompt {
    bool active;
    int purpose;      /* caller-defined: what to do on accept */
    char title[96];
    char buf[1024];
    int len, cur;     /* bytes; the cursor moves by bytes over ASCII paths */
} wg_prompt;

void wg_prompt_open(wg_prompt *p, int purpose, const char *title, const char *initial);

/* Feeds one key (curses codes: KEY_LEFT, KEY_BACKSPACE, 127, '\n', 27 ...). */
wg_prompt_result wg_prompt_key(wg_prompt *p, int ch);

/* Draws the prompt on one row of width w; places the cursor. */
void wg_prompt_draw(WINDOW *win, const wg_style *st, int y, int x, int w, const wg_prompt *p);

#endif
