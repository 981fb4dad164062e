/* Off-screen widget tests: curses on /dev/null (newterm), read back text and colour pairs;
 * and the pure parts of widgets (layout over many sizes, prompt editing, wrapping). */
#include "test.h"

#include <curses.h>
#include <locale.h>
#include <stdlib.h>

#include "bar.h"
#include "draw.h"
#include "dump.h"
#include "layout.h"
#include "picker.h"
#include "prompt.h"
#include "style.h"

static SCREEN *scr;
static FILE *out, *in;

static int screen_start(void)
{
    setenv("LINES", "30", 1);
    setenv("COLUMNS", "100", 1);
    out = fopen("/dev/null", "w");
    in = fopen("/dev/null", "r");
    scr = newterm("xterm-256color", out, in);
    if (!scr)
        return -1;
    set_term(scr);
    return 0;
}

static void screen_stop(void)
{
    endwin();
    delscreen(scr);
    fclose(out);
    fclose(in);
}

static short pair_at(int y, int x)
{
    cchar_t cc;
    mvwin_wch(stdscr, y, x, &cc);
    wchar_t wch[CCHARW_MAX + 1];
    attr_t a;
    short pair;
    getcchar(&cc, wch, &a, &pair, NULL);
    return pair;
}

static attr_t attr_at(int y, int x)
{
    cchar_t cc;
    mvwin_wch(stdscr, y, x, &cc);
    wchar_t wch[CCHARW_MAX + 1];
    attr_t a;
    short pair;
    getcchar(&cc, wch, &a, &pair, NULL);
    return a;
}

static void row(int y, char *buf, size_t cap)
{
    wg_row_text(stdscr, y, buf, cap);
}

static void test_outlier_bar_colour_and_text(void)
{
    if (screen_start() < 0)
        SKIP("newterm failed (no terminfo for xterm-256color)");
    if (!has_colors()) {
        screen_stop();
        SKIP("terminfo without colours");
    }
    wg_style st;
    wg_style_init(&st, WG_THEME_DEFAULT, true, false);
    erase();
    wg_bar_draw(stdscr, &st, 0, 0, 20, 0.5, WG_BAR_NORMAL, WG_BAR);
    wg_bar_draw(stdscr, &st, 1, 0, 20, 0.5, WG_BAR_OUTLIER, WG_OUTLIER);
    char buf[256];
    row(0, buf, sizeof buf);
    CHECK_STR(buf, "||||||||||");
    row(1, buf, sizeof buf);
    CHECK_STR(buf, "##########");
    CHECK(pair_at(0, 0) == st.pair[WG_BAR]);
    CHECK(pair_at(1, 0) == st.pair[WG_OUTLIER]);
    CHECK(pair_at(1, 9) == st.pair[WG_OUTLIER]);
    CHECK(st.pair[WG_OUTLIER] != st.pair[WG_BAR]);
    CHECK(pair_at(1, 10) == 0); /* the unfilled part is plain */
    short fg, bg;
    pair_content(st.pair[WG_OUTLIER], &fg, &bg);
    CHECK(fg == COLOR_RED);
    screen_stop();
}

static void test_monochrome_outliers_stay_visible(void)
{
    if (screen_start() < 0)
        SKIP("newterm failed");
    wg_style st;
    wg_style_init(&st, WG_THEME_DEFAULT, false, false); /* NO_COLOR */
    CHECK(st.theme == WG_THEME_MONO);
    erase();
    wg_bar_draw(stdscr, &st, 0, 0, 10, 1.0, WG_BAR_OUTLIER, WG_OUTLIER);
    CHECK(pair_at(0, 0) == 0);
    CHECK((attr_at(0, 0) & A_REVERSE) != 0);
    CHECK((attr_at(0, 0) & A_BOLD) != 0);
    char buf[64];
    row(0, buf, sizeof buf);
    CHECK_STR(buf, "##########");
    screen_stop();
}

static void test_unicode_bar_eighths(void)
{
    if (!setlocale(LC_ALL, "C.UTF-8"))
        SKIP("no C.UTF-8 locale");
    if (screen_start() < 0)
        SKIP("newterm failed");
    wg_style st;
    wg_style_init(&st, WG_THEME_DEFAULT, false, true);
    erase();
    wg_bar_draw(stdscr, &st, 0, 0, 8, 0.5 + 1.0 / 16, WG_BAR_NORMAL, WG_BAR); /* 4.5 cells */
    wg_bar_draw(stdscr, &st, 1, 0, 8, 0.001, WG_BAR_NORMAL, WG_BAR);          /* a sliver */
    wg_bar_draw(stdscr, &st, 2, 0, 8, 0.25, WG_BAR_OUTLIER, WG_OUTLIER);
    char buf[256];
    row(0, buf, sizeof buf);
    CHECK_STR(buf, "████▌");
    row(1, buf, sizeof buf);
    CHECK_STR(buf, "▏");
    row(2, buf, sizeof buf);
    CHECK_STR(buf, "▓▓");
    CHECK_STR(wg_shade(&st, 1.0), "█");
    screen_stop();
    setlocale(LC_ALL, "C");
}

static void test_text_clipping_and_wrap(void)
{
    if (screen_start() < 0)
        SKIP("newterm failed");
    erase();
    CHECK(wg_put(stdscr, 0, 95, 50, A_NORMAL, "abcdefghij") == 5); /* clipped at the edge */
    CHECK(wg_put(stdscr, 1, 0, 3, A_NORMAL, "abcdef") == 3);
    CHECK(wg_put(stdscr, 40, 0, 3, A_NORMAL, "off") == 0); /* below the screen */
    char buf[256];
    row(1, buf, sizeof buf);
    CHECK_STR(buf, "abc");
    int rows = wg_wrap(stdscr, 2, 0, 10, 5, A_NORMAL, "one two three four five");
    CHECK(rows == 3);
    row(2, buf, sizeof buf);
    CHECK_STR(buf, "one two");
    row(3, buf, sizeof buf);
    CHECK_STR(buf, "three four");
    CHECK(wg_wrap_rows("one two three four five", 10) == 3);
    CHECK(wg_wrap(stdscr, 10, 0, 4, 1, A_NORMAL, "abcdefgh ij") == 1); /* long word cut */
    row(10, buf, sizeof buf);
    CHECK_STR(buf, "abcd");
    screen_stop();
}

static void test_gauge(void)
{
    if (screen_start() < 0)
        SKIP("newterm failed");
    wg_style st;
    wg_style_init(&st, WG_THEME_MONO, false, false);
    erase();
    wg_gauge_draw(stdscr, &st, 0, 0, 17, 0.5, WG_GAUGE_OK);
    char buf[64];
    row(0, buf, sizeof buf);
    CHECK_STR(buf, "[|||||     ]  50%");
    screen_stop();
}

static void test_layout_properties(void)
{
    int checked = 0;
    for (int rows = 1; rows <= 120; rows++)
        for (int cols = 1; cols <= 300; cols += (cols < 140 ? 1 : 7)) {
            wg_layout l;
            wg_layout_compute(rows, cols, &l);
            if (rows < WG_MIN_ROWS || cols < WG_MIN_COLS) {
                CHECK(l.too_small);
                continue;
            }
            CHECK(!l.too_small);
            wg_rect r[WG_LAYOUT_N_RECTS];
            wg_layout_rects(&l, r);
            long area = 0;
            for (int i = 0; i < WG_LAYOUT_N_RECTS; i++) {
                CHECK(r[i].h > 0 && r[i].w > 0);       /* nothing empty */
                CHECK(wg_rect_inside(r[i], rows, cols)); /* nothing off-screen */
                for (int j = i + 1; j < WG_LAYOUT_N_RECTS; j++)
                    CHECK(!wg_rect_overlap(r[i], r[j]));
                area += (long)r[i].h * r[i].w;
            }
            CHECK(area <= (long)rows * cols);
            CHECK(l.main.h >= 10);                /* tab strip, header, 8 layers */
            CHECK(l.main.w >= 79);                /* the bars' columns fit */
            CHECK(l.detail.h >= 6);
            CHECK(l.status.y == rows - 1);
            CHECK(l.wide == (cols >= WG_WIDE_COLS));
            checked++;
        }
    CHECK(checked > 5000);
}

/* Fitted layouts keep the properties, and lines the detail text does not need go to the
 * layer list (80x24: the demo's four detail lines give the list two more layers). */
static void test_layout_fit(void)
{
    int checked = 0;
    for (int rows = WG_MIN_ROWS; rows <= 60; rows++)
        for (int cols = WG_MIN_COLS; cols <= 200; cols += 3)
            for (int need = -1; need <= 12; need++)
                for (int jobs = -1; jobs <= 6; jobs += 3) {
                    wg_layout l, d;
                    wg_layout_compute_fit(rows, cols, need, jobs, &l);
                    wg_layout_compute(rows, cols, &d);
                    wg_rect r[WG_LAYOUT_N_RECTS];
                    wg_layout_rects(&l, r);
                    for (int i = 0; i < WG_LAYOUT_N_RECTS; i++) {
                        CHECK(r[i].h > 0 && r[i].w > 0);
                        CHECK(wg_rect_inside(r[i], rows, cols));
                        for (int j = i + 1; j < WG_LAYOUT_N_RECTS; j++)
                            CHECK(!wg_rect_overlap(r[i], r[j]));
                    }
                    CHECK(l.main.h >= d.main.h); /* never fewer layer rows */
                    if (!l.wide && need >= 3)
                        CHECK(l.detail.h >= (need < d.detail.h ? need : d.detail.h));
                    checked++;
                }
    CHECK(checked > 1000);
    wg_layout l;
    wg_layout_compute_fit(24, 80, 4, -1, &l);
    CHECK(l.detail.h == 4 && l.main.h == 13); /* 11 layer rows instead of 8 */
}

static void test_prompt_editing(void)
{
    wg_prompt p;
    wg_prompt_open(&p, 1, "Open", "ab");
    CHECK(p.active && p.len == 2 && p.cur == 2);
    wg_prompt_edit(&p, WG_PROMPT_TYPE, 'c');
    wg_prompt_edit(&p, WG_PROMPT_LEFT, 0);
    wg_prompt_edit(&p, WG_PROMPT_LEFT, 0);
    wg_prompt_edit(&p, WG_PROMPT_TYPE, 'X');
    CHECK_STR(p.buf, "aXbc");
    wg_prompt_edit(&p, WG_PROMPT_BACKSPACE, 0);
    CHECK_STR(p.buf, "abc");
    wg_prompt_edit(&p, WG_PROMPT_DELETE, 0);
    CHECK_STR(p.buf, "ac");
    wg_prompt_edit(&p, WG_PROMPT_END, 0);
    wg_prompt_edit(&p, WG_PROMPT_BACKSPACE, 0);
    CHECK_STR(p.buf, "a");
    wg_prompt_edit(&p, WG_PROMPT_TYPE, 7); /* a control code is not text */
    wg_prompt_edit(&p, WG_PROMPT_TYPE, 127);
    CHECK_STR(p.buf, "a");
    wg_prompt_edit(&p, WG_PROMPT_HOME, 0);
    CHECK(p.cur == 0);
    wg_prompt_edit(&p, WG_PROMPT_LEFT, 0); /* stays at the start */
    wg_prompt_edit(&p, WG_PROMPT_BACKSPACE, 0);
    CHECK(p.cur == 0 && p.len == 1);
    wg_prompt_open(&p, 1, "Open", "xyz");
    wg_prompt_edit(&p, WG_PROMPT_CLEAR, 0);
    CHECK(p.len == 0 && p.cur == 0 && p.buf[0] == '\0');
}

static void test_picker_keys(void)
{
    wg_picker p;
    wg_picker_open(&p, 3);
    CHECK(p.active && p.sel == -1); /* nothing chosen: the typed path counts */
    CHECK(wg_picker_move(&p, WG_PICK_DOWN, 5) && p.sel == 0); /* Down from none: the first */
    wg_picker_open(&p, 3);
    CHECK(wg_picker_move(&p, WG_PICK_UP, 5) && p.sel == 2); /* Up from none: the last item */
    CHECK(wg_picker_move(&p, WG_PICK_DOWN, 5) && p.sel == 2); /* clamped at the end */
    CHECK(wg_picker_move(&p, WG_PICK_PGUP, 5) && p.sel == 0);
    CHECK(wg_picker_move(&p, WG_PICK_PGDN, 5) && p.sel == 2);
    wg_picker_open(&p, 0);
    CHECK(!wg_picker_move(&p, WG_PICK_DOWN, 5)); /* an empty list takes no keys */
}

static void label(void *ctx, int i, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s %d", (const char *)ctx, i);
}

static void test_picker_draw_scrolls(void)
{
    if (screen_start() < 0)
        return;
    wg_style st;
    wg_style_init(&st, WG_THEME_DEFAULT, false, false);
    wg_picker p;
    wg_picker_open(&p, 20);
    for (int k = 0; k < 12; k++)
        wg_picker_move(&p, WG_PICK_DOWN, 4);
    wg_rect r = {0, 0, 5, 40}; /* title + 4 rows */
    wg_picker_draw(stdscr, &st, r, "Found", &p, label, "model");
    CHECK(p.sel == 11 && p.scroll == 8); /* the selection stays visible */
    char row[64];
    mvwinnstr(stdscr, 4, 0, row, 20);
    CHECK(strncmp(row, "> model 11", 10) == 0);
    screen_stop();
}

static void test_theme_names(void)
{
    for (int t = 0; t < WG_N_THEMES; t++)
        CHECK(wg_theme_parse(wg_theme_name((wg_theme)t)) == t);
    CHECK(wg_theme_parse("neon") == -1);
    CHECK_STR(wg_role_name(WG_OUTLIER), "OUTLIER");
}

int main(void)
{
    setlocale(LC_ALL, "C");
    RUN(test_outlier_bar_colour_and_text);
    RUN(test_monochrome_outliers_stay_visible);
    RUN(test_unicode_bar_eighths);
    RUN(test_text_clipping_and_wrap);
    RUN(test_gauge);
    RUN(test_layout_properties);
    RUN(test_layout_fit);
    RUN(test_prompt_editing);
    RUN(test_picker_keys);
    RUN(test_picker_draw_scrolls);
    RUN(test_theme_names);
    return t_summary();
}
