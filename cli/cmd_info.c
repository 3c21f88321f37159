/* cmd_info.c — `ferc info`: what a model file holds. */
#include "cli.h"

#include <string.h>

int cmd_info(int argc, char **argv) {
    if (argc != 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        printf("usage: ferc info MODEL\n\nPrints a model's architecture, layers, input size, parameter\n"
               "count, forward FLOPs per face and its training history.\n");
        return argc == 2 ? 0 : 2;
    }
    ferc_error err = {0};
    ferc_model *m;
    double t0 = ferc_now();
    if (ferc_model_load(argv[1], &m, &err) != FERC_OK) return cli_error(&err);
    double dt = ferc_now() - t0;
    printf("model:      %s (loaded in %.1f ms)\n", argv[1], dt * 1e3);
    printf("arch:       %s\n", ferc_model_arch(m));
    printf("layers:     %s\n", ferc_model_spec(m));
    printf("input:      %dx%d gray, pixels scaled to [0,1]\n", ferc_model_input_size(m), ferc_model_input_size(m));
    printf("parameters: %zu\n", ferc_model_num_params(m));
    printf("forward:    %.2f MFLOP per face\n", ferc_model_flops(m) / 1e6);
    const ferc_epoch_stats *h;
    int n = ferc_model_history(m, &h);
    printf("history:    %d epochs\n", n);
    if (n) printf("  epoch   loss    acc     val_loss val_acc  val_f1   lr        seconds\n");
    for (int i = 0; i < n; i++)
        printf("  %5d  %.4f  %.4f  %.4f   %.4f  %.4f   %.2e  %7.1f\n", h[i].epoch, h[i].train_loss, h[i].train_acc,
               h[i].val_loss, h[i].val_acc, h[i].val_macro_f1, h[i].lr, h[i].seconds);
    ferc_model_free(m);
    return 0;
}
