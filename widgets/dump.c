#include "dump.h"

#include <string.h>
#include <wchar.h>

void wg_row_text(WINDOW *w, int y, char *buf, size_t cap)
{
    int rows, cols;
    getmaxyx(w, rows, cols);
    size_t len = 0;
    buf[0] = '\0';
    if (y < 0 || y >= rows || cap == 0)
        return;
    for (int x = 0; x < cols; x++) {
        cchar_t cc;
        if (mvwin_wch(w, y, x, &cc) == ERR)
            break;
        wchar_t wch[CCHARW_MAX + 1];
        attr_t a;
        short pair;
        if (getcchar(&cc, wch, &a, &pair, NULL) == ERR || wch[0] == L'\0')
            continue; /* the right half of a wide character */
        char mb[16];
        mbstate_t st;
        memset(&st, 0, sizeof st);
        size_t n = wcrtomb(mb, wch[0], &st);
        if (n == (size_t)-1) {
            mb[0] = '?';
            n = 1;
        }
        if (len + n + 1 >= cap)
            break;
        memcpy(buf + len, mb, n);
        len += n;
    }
    while (len > 0 && buf[len - 1] == ' ')
        len--;
    buf[len] = '\0';
}

int wg_dump_window(WINDOW *w, FILE *f)
{
    int rows, cols;
    getmaxyx(w, rows, cols);
    (void)cols;
    char line[8192];
    for (int y = 0; y < rows; y++) {
        wg_row_text(w, y, line, sizeof line);
        if (fprintf(f, "%s\n", line) < 0)
            return -1;
    }
    return 0;
}
