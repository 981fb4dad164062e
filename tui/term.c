#include "term.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

volatile sig_atomic_t term_stop_signal;

/* Terminal state: global because the crash handler needs it. UI thread only otherwise. */
static struct {
    bool active;
    SCREEN *screen;
    FILE *out, *in; /* /dev/null streams in no-display mode */
    int saved_stderr;
    FILE *err_tmp;
} g_term = {.saved_stderr = -1};

static void on_stop_signal(int sig)
{
    term_stop_signal = sig;
}

static void restore_stderr(void)
{
    if (g_term.saved_stderr >= 0) {
        fflush(stderr);
        dup2(g_term.saved_stderr, STDERR_FILENO);
        close(g_term.saved_stderr);
        g_term.saved_stderr = -1;
    }
}

static void on_crash(int sig)
{
    /* Restore the terminal first (not strictly async-signal-safe, as in htop), save nothing. */
    if (g_term.active)
        endwin();
    restore_stderr();
    static const char msg[] = "layerscope: crashed; terminal restored\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal; /* no SA_RESTART: getch returns and the loop sees it */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = on_crash;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
}

static void park_stderr(void)
{
    g_term.err_tmp = tmpfile();
    if (!g_term.err_tmp)
        return;
    fflush(stderr);
    g_term.saved_stderr = dup(STDERR_FILENO);
    if (g_term.saved_stderr < 0 || dup2(fileno(g_term.err_tmp), STDERR_FILENO) < 0) {
        fclose(g_term.err_tmp);
        g_term.err_tmp = NULL;
    }
}

int term_start(bool no_display, char *err, size_t cap)
{
    if (!no_display && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
        snprintf(err, cap, "the explorer needs a terminal (use --batch for text output)");
        return -1;
    }
    install_signals(); /* before curses, so it does not install its own */
    park_stderr();
    if (no_display) {
        g_term.out = fopen("/dev/null", "w");
        g_term.in = fopen("/dev/null", "r");
        const char *t = getenv("TERM");
        g_term.screen = (g_term.out && g_term.in)
                            ? newterm((t && *t) ? NULL : "xterm-256color", g_term.out, g_term.in)
                            : NULL;
    } else {
        g_term.screen = newterm(NULL, stdout, stdin);
    }
    if (!g_term.screen) {
        restore_stderr();
        snprintf(err, cap, "cannot initialise the terminal (TERM=%s)",
                 getenv("TERM") ? getenv("TERM") : "");
        return -1;
    }
    set_term(g_term.screen);
    g_term.active = true;
    cbreak();
    noecho();
    keypad(stdscr, TRUE);
    set_escdelay(25); /* Esc cancels at once instead of after a second */
    timeout(50);      /* the tick: progress redraws while a job runs */
    mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON4_PRESSED
#ifdef BUTTON5_PRESSED
                  | BUTTON5_PRESSED
#endif
              ,
              NULL);
    mouseinterval(0);
    curs_set(0);
    return 0;
}

void term_stop(void)
{
    if (g_term.active) {
        endwin();
        delscreen(g_term.screen);
        g_term.active = false;
    }
    if (g_term.out)
        fclose(g_term.out);
    if (g_term.in)
        fclose(g_term.in);
    g_term.out = g_term.in = NULL;
    restore_stderr();
    if (g_term.err_tmp) { /* replay what libraries said while the screen was up */
        rewind(g_term.err_tmp);
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, g_term.err_tmp)) > 0)
            fwrite(buf, 1, n, stderr);
        fclose(g_term.err_tmp);
        g_term.err_tmp = NULL;
    }
}
