/* A selection list drawn in a box (the model picker of the open prompt). The selection
 * logic needs no terminal, so it is unit-tested directly; labels come from the caller. */
#ifndef WG_PICKER_H
#define WG_PICKER_H

#include <stdbool.h>
#include <stddef.h>

#include "draw.h"
#include "style.h"

typedef struct wg_picker {
    bool active;
    int n;      /* items */
    int sel;    /* selected item; -1 = none (the typed path is used) */
    int scroll; /* first visible item */
} wg_picker;

void wg_picker_open(wg_picker *p, int n);

typedef enum wg_picker_op { WG_PICK_UP, WG_PICK_DOWN, WG_PICK_PGUP, WG_PICK_PGDN } wg_picker_op;

/* Moves the selection (page = visible rows; Up from none is the last item). Returns false,
 * changing nothing, when the picker is closed or empty. Which key moves is the caller's. */
bool wg_picker_move(wg_picker *p, wg_picker_op op, int page);

/* Writes the label of item i into buf. */
typedef void (*wg_picker_label_fn)(void *ctx, int i, char *buf, size_t cap);

/* Draws the box with a title and the visible items; scrolls to keep sel visible. */
void wg_picker_draw(WINDOW *w, const wg_style *st, wg_rect r, const char *title,
                    wg_picker *p, wg_picker_label_fn label, void *ctx);

#endif
