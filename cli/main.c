/* main.c — the ferc command-line tool: dispatches to the subcommands. */
#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Subcommands live in their own files; a weak declaration lets the tool
 * build while one of them is not written yet. */
#pragma weak cmd_bench
#pragma weak cmd_augment
#pragma weak cmd_report
#pragma weak cmd_serve
#pragma weak cmd_export

static const struct { const char *name; int (*fn)(int, char **); const char *help; } cmds[] = {
    {.name = "train", .fn = cmd_train, .help = "train a network on FER2013 (CSV or image folders)"},
    {.name = "eval", .fn = cmd_eval, .help = "accuracy, classification report and confusion matrix"},
    {.name = "predict", .fn = cmd_predict, .help = "classify the faces in images or folders"},
    {.name = "video", .fn = cmd_video, .help = "classify the faces in a video, frame by frame, to CSV"},
    {.name = "report", .fn = cmd_report, .help = "an HTML report with curves, confusion, errors, activations"},
    {.name = "augment", .fn = cmd_augment, .help = "a PNG grid of faces beside their augmented versions"},
    {.name = "bench", .fn = cmd_bench, .help = "speed of training and inference on random data"},
    {.name = "info", .fn = cmd_info, .help = "what a model file holds (architecture, history, size)"},
    {.name = "calibrate", .fn = cmd_calibrate, .help = "temperature scaling: scores that mean what they say"},
    {.name = "tune", .fn = cmd_tune, .help = "hyperparameter search over train options (successive halving)"},
    {.name = "ensemble", .fn = cmd_ensemble, .help = "one model file averaging several models' probabilities"},
    {.name = "serve", .fn = cmd_serve, .help = "an HTTP service and a web page (webcam) for emotions"},
    {.name = "export", .fn = cmd_export, .help = "the model as an ONNX file, preprocessing included"},
};

static void usage(FILE *f) {
    fprintf(f,
            "ferc %s — facial emotion recognition in C\n\n"
            "usage: ferc <command> [options]   (ferc <command> --help for its options)\n\n"
            "commands:\n", FERC_VERSION_STRING);
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (cmds[i].fn) fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].help);
    fprintf(f,
            "\nlabels: angry disgust fear happy sad surprise neutral (FER2013 order 0-6)\n"
            "quick start:\n"
            "  ferc train --data ../shared/data/fer2013/fer2013.csv.gz --arch seed --out seed.ferc\n"
            "  ferc eval --model seed.ferc --data ../shared/data/fer2013/fer2013.csv.gz --usage PublicTest\n"
            "  ferc predict --model models/seed.ferc face.png\n");
}

/* One line naming the likely command (or listing them all) instead of the
 * whole usage: the user mistyped, the command list is what helps. */
static int unknown_command(const char *arg) {
    enum { N = sizeof cmds / sizeof cmds[0] };
    const char *names[N + 1];
    for (size_t i = 0; i < N; i++) names[i] = cmds[i].name;
    names[N] = NULL;
    const char *s = cli_suggest(arg, names);
    if (s) fprintf(stderr, "ferc: unknown command '%s'; did you mean '%s'?\n", arg, s);
    else {
        fprintf(stderr, "ferc: unknown command '%s'; the commands are", arg);
        for (size_t i = 0; i < N; i++) fprintf(stderr, " %s", names[i]);
        fputc('\n', stderr);
    }
    fprintf(stderr, "(see 'ferc --help')\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) { printf("ferc %s\n", FERC_VERSION_STRING); return 0; }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(argv[1], cmds[i].name) == 0) {
            if (!cmds[i].fn) { fprintf(stderr, "ferc: '%s' is not built in this version\n", argv[1]); return 2; }
            return cmds[i].fn(argc - 1, argv + 1);
        }
    return unknown_command(argv[1]);
}
