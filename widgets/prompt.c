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

wg_prompt_result wg_prompt_key(wg_prompt *p, int ch)
{
    switch (ch) {
    case '\n':
    case '\r':
    case KEY_ENTER:
        p->active = false;
        return WG_PROMPT_ACCEPT;
    case 27:
    case 7: /* ^G */
        p->active = false;
        return WG_PROMPT_CANCEL;
    case KEY_LEFT:
        if (p->cur > 0)
            p->cur--;
        break;
    case KEY_RIGHT:
        if (p->cur < p->len)
            p->cur++;
        break;
    case KEY_HOME:
    case 1: /* ^A */
        p->cur = 0;
        break;
    case KEY_END:
    case 5: /* ^E */
        p->cur = p->len;
        break;
    case KEY_BACKSPACE:
    case 127:
    case 8:
        if (p->cur > 0)
            delete_at(p, --p->cur);
        break;
    case KEY_DC:
    case 4: /* ^D */
        delete_at(p, p->cur);
        break;
    case 21: /* ^U: clear */
        p->len = p->cur = 0;
        p->buf[0] = '\0';
        break;
    default:
        if (ch >= 32 && ch < 256 && ch != 127 && p->len < (int)sizeof p->buf - 1) {
            memmove(p->buf + p->cur + 1, p->buf + p->cur, (size_t)(p->len - p->cur + 1));
            p->buf[p->cur++] = (char)ch;
            p->len++;
        }
        break;
    }
    return WG_PROMPT_EDITING;
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
