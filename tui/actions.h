/* Key handling: the key table's actions, prompts, the quit confirmation and mouse. */
#ifndef TUI_ACTIONS_H
#define TUI_ACTIONS_H

#include "app.h"

/* Handles one key (ch from getch or a script). Returns R_* reaction bits. */
unsigned actions_key(app *a, int ch);

/* A mouse press at screen (y, x) (button 1 selects; 4/5 are the wheel). */
unsigned actions_click(app *a, int y, int x, int button);

#endif
