/* The terminal while curses owns it: start and always restore (normal exit, error,
 * SIGINT/SIGTERM/SIGHUP through a flag the loop checks, crashes through a handler that
 * restores first), with stderr parked in a temporary file meanwhile and replayed after, so
 * library messages never paint over the screen. */
#ifndef TUI_TERM_H
#define TUI_TERM_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

/* Set by SIGINT/SIGTERM/SIGHUP; the main loop quits cleanly when it is non-zero. */
extern volatile sig_atomic_t term_stop_signal;

/* no_display: draw into /dev/null (size from LINES/COLUMNS, else 80x24). */
int term_start(bool no_display, char *err, size_t cap);
/* Idempotent: leaves curses, restores stderr and replays what was written to it. */
void term_stop(void);

#endif
