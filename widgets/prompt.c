#include "prompt.h"

#include <stdio.h>
#include <string.h>

void wg_prompt_open(wg_prompt *p, int purpose, const char *title, const char *initial)
{
    memset(p, 0, sizeof *p);
    p->active = true;
    p->purpose = purpose;
    snprintf(p->title, sizeof p->title, "%s", title);
    snprintf(p->buf, sizeof p->buf, "%s", initial ? initial : "");
    p->len = p->cur = (int)strlen(p->buf);
}

static void delete_at(wg_prompt *p, int at)
{
    if (at < 0 || at >= p->len)
        return;
    memmove(p->buf + at, p->buf + at + 1, (size_t)(p->len - at));
    p->len--;
}

void wg_prompt_edit(wg_prompt *p, wg_prompt_op op, int ch)
{
    switch (op) {
    case WG_PROMPT_LEFT:
        if (p->cur > 0)
            p->cur--;
        break;
    case WG_PROMPT_RIGHT:
        if (p->cur < p->len)
            p->cur++;
        break;
    case WG_PROMPT_HOME:
        p->cur = 0;
        break;
    case WG_PROMPT_END:
        p->cur = p->len;
        break;
    case WG_PROMPT_BACKSPACE:
        if (p->cur > 0)
            delete_at(p, --p->cur);
        break;
    case WG_PROMPT_DELETE:
        delete_at(p, p->cur);
        break;
    case WG_PROMPT_CLEAR:
        p->len = p->cur = 0;
        p->buf[0] = '\0';
        break;
    case WG_PROMPT_TYPE: /* printable bytes only; other codes are ignored */
        if (ch >= 32 && ch < 256 && ch != 127 && p->len < (int)sizeof p->buf - 1) {
            memmove(p->buf + p->cur + 1, p->buf + p->cur, (size_t)(p->len - p->cur + 1));
            p->buf[p->cur++] = (char)ch;
            p->len++;
        }
        break;
    }
}

void wg_prompt_draw(WINDOW *win, const wg_style *st, int y, int x, int w, const wg_prompt *p)
{
    wg_blank(win, y, x, w, wg_attr(st, WG_STATUS));
    int used = wg_putf(win, y, x, w, wg_attr(st, WG_STATUS), "%s: ", p->title);
    int field = w - used - 1;
    if (field < 1)
        return;
    /* scroll the text so the cursor stays visible */
    int start = p->cur > field ? p->cur - field : 0;
    wg_put(win, y, x + used, field, wg_attr(st, WG_DEFAULT), p->buf + start);
    wmove(win, y, x + used + (p->cur - start));
}
