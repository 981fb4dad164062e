#include "style.h"

#include <string.h>

static const char *const theme_names[WG_N_THEMES] = {"default", "light", "mono"};

static const char *const role_names[WG_N_ROLES] = {
#define WG_ROLE_NAME(n) #n,
    WG_ROLES(WG_ROLE_NAME)
#undef WG_ROLE_NAME
};

const char *wg_theme_name(wg_theme t)
{
    return (t >= 0 && t < WG_N_THEMES) ? theme_names[t] : "?";
}

int wg_theme_parse(const char *s)
{
    for (int i = 0; i < WG_N_THEMES; i++)
        if (strcmp(s, theme_names[i]) == 0)
            return i;
    return -1;
}

const char *wg_role_name(wg_role r)
{
    return (r >= 0 && r < WG_N_ROLES) ? role_names[r] : "?";
}

typedef struct role_spec {
    short fg, bg;
    attr_t extra;
} role_spec;

/* -1 = the terminal's default colour (use_default_colors). */
static const role_spec dark[WG_N_ROLES] = {
    [WG_DEFAULT] = {-1, -1, 0},
    [WG_HEADER] = {COLOR_BLACK, COLOR_CYAN, 0},
    [WG_TITLE] = {COLOR_CYAN, -1, A_BOLD},
    [WG_BAR] = {COLOR_GREEN, -1, 0},
    [WG_BAR_ALT] = {COLOR_BLUE, -1, A_BOLD},
    [WG_OUTLIER] = {COLOR_RED, -1, A_BOLD},
    [WG_THRESHOLD] = {COLOR_YELLOW, -1, 0},
    [WG_GAUGE_OK] = {COLOR_GREEN, -1, A_BOLD},
    [WG_GAUGE_WARN] = {COLOR_YELLOW, -1, A_BOLD},
    [WG_GAUGE_CRIT] = {COLOR_RED, -1, A_BOLD},
    [WG_SELECTION] = {COLOR_BLACK, COLOR_WHITE, 0},
    [WG_KEY] = {COLOR_CYAN, -1, A_BOLD},
    [WG_STATUS] = {COLOR_BLACK, COLOR_CYAN, 0},
    [WG_ERROR] = {COLOR_WHITE, COLOR_RED, A_BOLD},
    [WG_DIM] = {-1, -1, A_DIM},
};

static const role_spec light[WG_N_ROLES] = {
    [WG_DEFAULT] = {-1, -1, 0},
    [WG_HEADER] = {COLOR_WHITE, COLOR_BLUE, 0},
    [WG_TITLE] = {COLOR_BLUE, -1, A_BOLD},
    [WG_BAR] = {COLOR_BLUE, -1, 0},
    [WG_BAR_ALT] = {COLOR_MAGENTA, -1, 0},
    [WG_OUTLIER] = {COLOR_RED, -1, A_BOLD},
    [WG_THRESHOLD] = {COLOR_MAGENTA, -1, 0},
    [WG_GAUGE_OK] = {COLOR_GREEN, -1, 0},
    [WG_GAUGE_WARN] = {COLOR_YELLOW, -1, 0},
    [WG_GAUGE_CRIT] = {COLOR_RED, -1, 0},
    [WG_SELECTION] = {COLOR_WHITE, COLOR_BLUE, 0},
    [WG_KEY] = {COLOR_BLUE, -1, A_BOLD},
    [WG_STATUS] = {COLOR_WHITE, COLOR_BLUE, 0},
    [WG_ERROR] = {COLOR_WHITE, COLOR_RED, A_BOLD},
    [WG_DIM] = {-1, -1, A_DIM},
};

/* Monochrome: attributes only. */
static const attr_t mono[WG_N_ROLES] = {
    [WG_DEFAULT] = A_NORMAL,
    [WG_HEADER] = A_REVERSE,
    [WG_TITLE] = A_BOLD,
    [WG_BAR] = A_NORMAL,
    [WG_BAR_ALT] = A_NORMAL,
    [WG_OUTLIER] = A_REVERSE | A_BOLD,
    [WG_THRESHOLD] = A_UNDERLINE,
    [WG_GAUGE_OK] = A_BOLD,
    [WG_GAUGE_WARN] = A_BOLD,
    [WG_GAUGE_CRIT] = A_REVERSE | A_BOLD,
    [WG_SELECTION] = A_REVERSE,
    [WG_KEY] = A_BOLD,
    [WG_STATUS] = A_REVERSE,
    [WG_ERROR] = A_REVERSE | A_BOLD,
    [WG_DIM] = A_DIM,
};

void wg_style_init(wg_style *st, wg_theme theme, bool can_color, bool unicode)
{
    memset(st, 0, sizeof *st);
    if (theme < 0 || theme >= WG_N_THEMES)
        theme = WG_THEME_DEFAULT;
    st->unicode = unicode;
    st->color = can_color && theme != WG_THEME_MONO;
    st->theme = st->color ? theme : WG_THEME_MONO;
    if (!st->color) {
        for (int r = 0; r < WG_N_ROLES; r++)
            st->attr[r] = mono[r];
        return;
    }
    start_color();
    use_default_colors(); /* so a -1 background is the terminal's, not black */
    const role_spec *spec = theme == WG_THEME_LIGHT ? light : dark;
    for (int r = 0; r < WG_N_ROLES; r++) {
        short pair = (short)(r + 1);
        init_pair(pair, spec[r].fg, spec[r].bg);
        st->pair[r] = pair;
        st->attr[r] = COLOR_PAIR(pair) | spec[r].extra;
    }
}
