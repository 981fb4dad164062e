/* The model picker of the open prompt: what discovery finds in the Hugging Face cache and
 * the current directory, chosen with the arrows (the prompt keeps accepting a typed path). */
#include <stdio.h>
#include <string.h>

#include "app.h"

#define PICKER_TITLE "Open model or profile (Up/Down: found models)"

void app_open_picker(app *a)
{
    ls_found_list_free(&a->found);
    memset(&a->found, 0, sizeof a->found);
    ls_discover_hf_cache(NULL, &a->found);
    ls_discover_directory(NULL, &a->found);
    ls_discover_bundled(&a->found);
    ls_found_list_sort(&a->found);
    wg_picker_open(&a->picker, (int)a->found.n);
    a->picker.active = a->found.n > 0;
    wg_prompt_open(&a->prompt, PROMPT_OPEN, a->found.n ? PICKER_TITLE : "Open model or profile",
                   a->path);
}

bool app_picker_move(app *a, wg_picker_op op, int page)
{
    if (!wg_picker_move(&a->picker, op, page))
        return false;
    /* the chosen path goes into the prompt, where it can still be edited */
    wg_prompt_open(&a->prompt, PROMPT_OPEN, PICKER_TITLE, a->found.items[a->picker.sel].path);
    return true;
}

void app_picker_label(void *ctx, int i, char *buf, size_t cap)
{
    const ls_found_model *m = &((const ls_found_list *)ctx)->items[i];
    snprintf(buf, cap, "%-9s %-11s %-36s %s", m->origin, m->kind, m->name, m->path);
}
