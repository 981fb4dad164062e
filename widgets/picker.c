#include "picker.h"

#include <string.h>

void wg_picker_open(wg_picker *p, int n)
{
    memset(p, 0, sizeof *p);
    p->active = true;
    p->n = n;
    p->sel = -1;
}

bool wg_picker_move(wg_picker *p, wg_picker_op op, int page)
{
    if (!p->active || p->n == 0)
        return false;
    int s = p->sel, step = page > 1 ? page : 1;
    switch (op) {
    case WG_PICK_UP: s = s < 0 ? p->n - 1 : s - 1; break;
    case WG_PICK_DOWN: s = s + 1; break;
    case WG_PICK_PGUP: s = s < 0 ? 0 : s - step; break;
    case WG_PICK_PGDN: s = s + step; break;
    }
    p->sel = s < 0 ? 0 : s >= p->n ? p->n - 1 : s;
    return true;
}

void wg_picker_draw(WINDOW *w, const wg_style *st, wg_rect r, const char *title,
                    wg_picker *p, wg_picker_label_fn label, void *ctx)
{
    if (r.h < 2 || r.w < 10)
        return;
    attr_t d = wg_attr(st, WG_DEFAULT);
    wg_clear_rect(w, r, d);
    wg_put(w, r.y, r.x + 1, r.w - 2, wg_attr(st, WG_TITLE), title);
    int rows = r.h - 1;
    if (p->sel >= 0 && p->sel < p->scroll)
        p->scroll = p->sel;
    if (p->sel >= p->scroll + rows)
        p->scroll = p->sel - rows + 1;
    if (p->scroll > p->n - rows)
        p->scroll = p->n - rows;
    if (p->scroll < 0)
        p->scroll = 0;
    for (int k = 0; k < rows && p->scroll + k < p->n; k++) {
        int i = p->scroll + k;
        char buf[512];
        label(ctx, i, buf, sizeof buf);
        attr_t at = i == p->sel ? wg_attr(st, WG_SELECTION) : d;
        if (i == p->sel)
            wg_blank(w, r.y + 1 + k, r.x, r.w, at);
        wg_putf(w, r.y + 1 + k, r.x, r.w, at, "%s %s", i == p->sel ? ">" : " ", buf);
    }
}
