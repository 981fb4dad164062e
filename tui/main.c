/* layerscope entry point: options, then batch mode or the explorer. */
#include <locale.h>
#include <stdio.h>

#include "cli/batch.h"
#include "nn/blas_check.h"
#include "nn/matmul_bf16.h"
#include "explorer.h"
#include "cli/options.h"
#include "uiargs.h"
#include "base/version.h"

static void print_version(void)
{
    char blas[256], note[256];
    printf("layerscope %s\n", LS_VERSION);
    ls_blas_describe(blas, sizeof blas);
    printf("%s\n", blas);
    if (ls_blas_check(note, sizeof note))
        printf("warning: %s\n", note);
    char dnnl[320];
    ls_onednn_describe(dnnl, sizeof dnnl);
    printf("%s\n", dnnl);
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "");
    setlocale(LC_NUMERIC, "C"); /* numbers in output and JSON always use '.' */
    ui_args ua;
    char msg[256];
    if (ui_args_extract(&argc, argv, &ua, msg, sizeof msg) < 0) {
        fprintf(stderr, "layerscope: %s\n", msg);
        return 2;
    }
    ls_options o;
    ls_error err;
    if (ls_options_parse(argc, argv, &o, &err) < 0) {
        fprintf(stderr, "layerscope: %s\n", err.msg);
        return 2;
    }
    ls_blas_use_caller_thread_only(); /* the forward pass threads its products itself */
    if (o.help) {
        ls_options_print_usage(stdout);
        fputs(ui_args_usage(), stdout);
        return 0;
    }
    if (o.version) {
        print_version();
        return 0;
    }
    if (ua.list_keys) {
        explorer_list_keys();
        return 0;
    }
    if (o.list_models)
        return ls_batch_list_models(o.model_path, stdout);
    if (o.batch)
        return ls_batch_run(&o, stdout, stderr);
    return explorer_run(&o, &ua);
}
