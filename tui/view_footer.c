/* The footer (status line): the prompt, the quit question, or the last message followed
 * by key hints from the key table. When the hints do not all fit the width they are split
 * into pages, each ending with "F2:more" (F2 or a click turns the page), so every
 * key with a hint is reachable at 80 columns. Clicking a hint runs its key. */
#include <stdio.h>
#include <string.h>

#include "keys.h"
#include "view.h"

#define MORE_HINT "F2:more"

/* Footer order: help and quit first (so they are on every first page), then table order. */
static int footer_hints(const ls_key **out, int cap)
{
    int n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < ls_n_keys && n < cap; i++) {
            const ls_key *k = &ls_keys[i];
            bool first = k->action == ACT_HELP || k->action == ACT_QUIT;
            if (k->context == CTX_MAIN && k->hint && first == (pass == 0))
                out[n++] = k;
        }
    return n;
}

/* Page of each hint for a footer w columns wide; returns the page count. */
static int paginate(const ls_key **h, int n, int w, int *page)
{
    int more = wg_text_width(MORE_HINT) + 1, p = 0, x = 0;
    int total = 0;
    for (int i = 0; i < n; i++)
        total += wg_text_width(h[i]->hint) + 1;
    if (total <= w) { /* one page, no ">:more" */
        for (int i = 0; i < n; i++)
            page[i] = 0;
        return n ? 1 : 0;
    }
    for (int i = 0; i < n; i++) {
        int hw = wg_text_width(h[i]->hint) + 1;
        if (x > 0 && x + hw > w - more)
            p++, x = 0;
        page[i] = p;
        x += hw;
    }
    return p + 1;
}

static int draw_hint(app *a, int y, int x, int end, const char *hint, int code)
{
    attr_t st = wg_attr(&a->style, WG_STATUS);
    int hw = wg_text_width(hint) + 1;
    if (x + hw > end)
        return -1;
    const char *colon = strchr(hint, ':');
    int kl = colon ? (int)(colon - hint) : 0;
    char keys[16];
    snprintf(keys, sizeof keys, "%.*s", kl, hint);
    int x0 = x;
    x += 1;
    x += wg_put(stdscr, y, x, kl, st | A_BOLD, keys);
    x += wg_put(stdscr, y, x, end - x, st, colon ? colon : hint);
    if (a->n_footer_hit < (int)(sizeof a->footer_hit / sizeof a->footer_hit[0])) {
        a->footer_hit[a->n_footer_hit].x0 = x0;
        a->footer_hit[a->n_footer_hit].x1 = x;
        a->footer_hit[a->n_footer_hit].code = code;
        a->n_footer_hit++;
    }
    return x;
}

void view_status(app *a, wg_rect r)
{
    attr_t st = wg_attr(&a->style, WG_STATUS);
    wg_blank(stdscr, r.y, r.x, r.w, st);
    a->n_footer_hit = 0;
    if (a->prompt.active) {
        wg_prompt_draw(stdscr, &a->style, r.y, r.x, r.w, &a->prompt);
        return;
    }
    int x = r.x, end = r.x + r.w;
    if (a->confirm_quit) {
        wg_put(stdscr, r.y, x, r.w, wg_attr(&a->style, WG_ERROR),
               " Jobs are running. Quit anyway? (y/n) ");
        return;
    }
    const ls_key *h[64];
    int page[64];
    int n = footer_hints(h, 64);
    a->n_footer_pages = paginate(h, n, r.w, page);
    if (a->footer_page >= a->n_footer_pages)
        a->footer_page = 0;
    if (a->msg[0]) {
        x += wg_putf(stdscr, r.y, x, r.w, wg_attr(&a->style, a->msg_error ? WG_ERROR : WG_STATUS),
                     " %s ", a->msg);
        x += 1;
    }
    int more_w = a->n_footer_pages > 1 ? wg_text_width(MORE_HINT) + 1 : 0;
    for (int i = 0; i < n; i++) {
        if (page[i] != a->footer_page)
            continue;
        int nx = draw_hint(a, r.y, x, end - more_w, h[i]->hint, h[i]->code);
        if (nx < 0)
            break;
        x = nx;
    }
    if (more_w && x + more_w <= end)
        draw_hint(a, r.y, end - more_w, end, MORE_HINT, KEY_F(2));
}
