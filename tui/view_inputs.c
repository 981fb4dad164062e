/* The job inputs screen (I): the texts, protocol, ctx and compute P, S, M and F run on, one
 * row each with the jobs that use it; a long path wraps instead of being cut. */
#include <stdio.h>

#include "view.h"

void view_inputs(app *a, wg_rect r)
{
    wg_clear_rect(stdscr, r, A_NORMAL);
    attr_t t = wg_attr(&a->style, WG_TITLE), d = wg_attr(&a->style, WG_DEFAULT);
    attr_t dim = wg_attr(&a->style, WG_DIM);
    int y = r.y, end = r.y + r.h;
    wg_put(stdscr, y++, r.x + 1, r.w - 2, t,
           "Job inputs  (Enter: type a value, Space: next value, I or Esc: close)");
    y++;
    enum { NAME_W = 33 }; /* "> " + 17 + " (P, S, M, F)" + a space */
    for (int f = 0; f < APP_INPUT_COUNT && y < end; f++) {
        bool sel = f == a->inputs_sel;
        attr_t at = sel ? wg_attr(&a->style, WG_SELECTION) : d;
        char name[64], value[1200];
        snprintf(name, sizeof name, "%s %-17s (%s)", sel ? ">" : " ", app_input_name(f),
                 app_input_users(f));
        app_input_value(a, f, value, sizeof value);
        if (sel)
            wg_blank(stdscr, y, r.x, r.w, at);
        wg_put(stdscr, y, r.x, NAME_W, at, name);
        y += wg_wrap(stdscr, y, r.x + NAME_W, r.w - NAME_W - 1, end - y, at, value);
    }
    y++;
    if (y < end)
        y += wg_wrap(stdscr, y, r.x + 1, r.w - 2, end - y, dim,
                     "A path is checked when set: a file that cannot be read leaves the input "
                     "unchanged. Changes apply to the next job; C toggles the compute here too. "
                     "The jobs panel's P line says what each run was on.");
    if (a->ppl_known && y + 1 < end) {
        char tag[1200];
        app_inputs_tag(a->ppl_text, a->ppl_protocol, a->ppl_ctx, a->ppl_compute, tag,
                       sizeof tag);
        wg_putf(stdscr, y + 1, r.x + 1, r.w - 2, d, "last P: %s", tag);
    }
}
