#include "explorer.h"

#include "io/samples.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "actions.h"
#include "app.h"
#include "dump.h"
#include "keys.h"
#include "script.h"
#include "term.h"
#include "view.h"

void explorer_list_keys(void)
{
    for (int i = 0; i < ls_n_keys; i++)
        printf("%s\t%s\t%s\n", ls_key_context_title(ls_keys[i].context), ls_keys[i].label,
               ls_keys[i].help);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void dump_screen(const char *path, bool append)
{
    if (!path)
        return;
    FILE *f = fopen(path, append ? "a" : "w");
    if (!f)
        return;
    wg_dump_window(stdscr, f);
    fclose(f);
}

/* --session FILE: its model unless MODEL is given, with the rules of batch mode. Returns -1
 * with err set when the session or its model cannot be opened. */
static int open_session(app *a, ls_error *err_out)
{
    const ls_options *o = a->opts;
    ls_session s;
    memset(&s, 0, sizeof s);
    ls_error err;
    if (ls_session_load(o->session, &s, &err) < 0) {
        *err_out = err;
        return -1;
    }
    const char *path = o->model_path ? o->model_path : s.model_path;
    int rc = app_open_session(a, path, &s, true, &err);
    if (rc < 0)
        *err_out = err;
    else if (!a->msg_error)
        app_msg(a, false, "session %s resumed", o->session);
    ls_session_free(&s);
    return rc;
}

/* The first thing to open: the session, the argument, else the default demo path when it
 * exists, else the picker of discovered models. Runs before the terminal is taken: a
 * session or path the user named that cannot be opened is refused (-1, err) so the caller
 * prints one line and exits 2 without ever drawing a screen. */
static int open_initial(app *a, ls_error *err_out)
{
    if (a->opts->session)
        return open_session(a, err_out);
    const char *path = a->opts->model_path;
    struct stat st;
    char demo[1024]; /* the size of app.path */
    ls_sample_path(LS_SAMPLE_MODEL, demo, sizeof demo);
    if (!path && stat(demo, &st) == 0)
        path = demo;
    if (!path) {
        app_open_picker(a);
        if (!a->picker.active) {
            a->prompt.active = false;
            app_msg(a, false, "no model given and no %s: press o to open one", demo);
        }
        return 0;
    }
    ls_error err;
    if (app_open(a, path, &err) < 0) {
        if (a->opts->model_path) {
            *err_out = err;
            return -1;
        }
        /* the default demo failed: say so inside, the user named nothing */
        snprintf(a->load_error, sizeof a->load_error, "%s", err.msg);
        snprintf(a->path, sizeof a->path, "%s", path);
        app_msg(a, true, "cannot open %s: press o to open another path", path);
    } else if (app_open_imatrix(a, &err) < 0) {
        app_msg(a, true, "%s", err.msg);
    }
    return 0;
}

/* One scripted step; returns reaction bits. */
static unsigned run_step(app *a, const script_step *st)
{
    switch (st->op) {
    case SOP_KEY:
        return actions_key(a, st->key);
    case SOP_WAIT: /* taking a result may start a follow-up job (the frontier's points) */
        do {
            ls_jobs_wait_idle(a->jobs);
            app_poll_jobs(a);
        } while (ls_jobs_active(a->jobs) > 0);
        return R_REDRAW;
    case SOP_DUMP:
        dump_screen(a->args->dump_screen, true);
        return R_NONE;
    case SOP_RESIZE:
        resizeterm(st->b, st->a);
        return R_REDRAW;
    case SOP_CLICK:
        return actions_click(a, st->a, st->b, 1);
    }
    return R_NONE;
}

static void loop(app *a, script *sc)
{
    bool dirty = true, scripted = sc->n > 0;
    int frames = 0, fast_err = 0;
    while (!a->quit && !term_stop_signal) {
        if (app_poll_jobs(a))
            dirty = true;
        if (dirty) {
            view_draw(a);
            doupdate();
            refresh();
            dirty = false;
            if (a->args->max_frames && ++frames >= a->args->max_frames)
                break;
        }
        unsigned r;
        if (scripted) {
            script_step st;
            if (!script_next(sc, &st))
                break; /* the script is over */
            r = run_step(a, &st);
        } else {
            double t0 = now_ms();
            int ch = getch();
            if (ch == ERR) {
                /* ERR at once, again and again: the terminal is gone */
                fast_err = now_ms() - t0 < 2 ? fast_err + 1 : 0;
                if (fast_err > 200)
                    break;
                continue;
            }
            fast_err = 0;
            r = actions_key(a, ch);
        }
        if (r & R_ANALYZE)
            app_analyze(a);
        if (r & R_QUIT)
            a->quit = true;
        if (r)
            dirty = true;
    }
    /* the final screen, as the user last saw it */
    view_draw(a);
    doupdate();
    refresh();
}

int explorer_run(const ls_options *o, const ui_args *ua)
{
    script sc = {0};
    char msg[600];
    if (ua->script && script_load(ua->script, &sc, msg, sizeof msg) < 0) {
        fprintf(stderr, "layerscope: %s\n", msg);
        return 2;
    }
    app *a = malloc(sizeof *a);
    ls_error err;
    if (!a || app_init(a, o, ua, &err) < 0) {
        fprintf(stderr, "layerscope: %s\n", a ? err.msg : "out of memory");
        free(a);
        script_free(&sc);
        return 2;
    }
    if (open_initial(a, &err) < 0) {
        fprintf(stderr, "layerscope: %s\n", err.msg);
        app_free(a);
        free(a);
        script_free(&sc);
        return 2;
    }
    if (term_start(ua->no_display, msg, sizeof msg) < 0) {
        fprintf(stderr, "layerscope: %s\n", msg);
        app_free(a);
        free(a);
        script_free(&sc);
        return 2;
    }
    view_apply_theme(a);
    if (ua->dump_screen) { /* start empty; dump steps append */
        FILE *f = fopen(ua->dump_screen, "w");
        if (f)
            fclose(f);
    }
    loop(a, &sc);
    dump_screen(ua->dump_screen, true);
    ls_jobs_cancel_all(a->jobs);
    term_stop();
    if (term_stop_signal)
        fprintf(stderr, "layerscope: stopped by signal %d\n", (int)term_stop_signal);
    app_save_config(a);
    app_free(a);
    free(a);
    script_free(&sc);
    return 0;
}
