/* Colour roles and themes. Drawing code asks for a role, never a colour; a theme maps each
 * role to attributes. The monochrome theme (NO_COLOR, or a terminal without colours) uses
 * only bold/reverse/underline, and outliers also get their own fill character, so they stay
 * visible without colour and in plain-text screen captures. */
#ifndef WG_STYLE_H
#define WG_STYLE_H

#include <curses.h>
#include <stdbool.h>

#define WG_ROLES(X)                                                                      \
    X(DEFAULT) X(HEADER) X(TITLE) X(BAR) X(BAR_ALT) X(OUTLIER) X(THRESHOLD) X(GAUGE_OK)  \
    X(GAUGE_WARN) X(GAUGE_CRIT) X(SELECTION) X(KEY) X(STATUS) X(ERROR) X(DIM)

typedef enum wg_role {
#define WG_ROLE_ENUM(n) WG_##n,
    WG_ROLES(WG_ROLE_ENUM)
#undef WG_ROLE_ENUM
    WG_N_ROLES
} wg_role;

typedef enum wg_theme { WG_THEME_DEFAULT, WG_THEME_LIGHT, WG_THEME_MONO, WG_N_THEMES } wg_theme;

typedef struct wg_style {
    wg_theme theme;
    bool color;     /* colour pairs in use */
    bool unicode;   /* UTF-8 block characters; else ASCII */
    attr_t attr[WG_N_ROLES];
    short pair[WG_N_ROLES]; /* colour pair of each role, 0 in monochrome */
} wg_style;

const char *wg_theme_name(wg_theme t); /* "default" "light" "mono" */
int wg_theme_parse(const char *s);     /* -1 when unknown */
const char *wg_role_name(wg_role r);

/* Fills st and, when colours are used, initialises the colour pairs (pair = role + 1).
 * Call after initscr/newterm; can_color = has_colors() && NO_COLOR unset. */
void wg_style_init(wg_style *st, wg_theme theme, bool can_color, bool unicode);

static inline attr_t wg_attr(const wg_style *st, wg_role r)
{
    return st->attr[r];
}

#endif
