/* cmd_export.c — `ferc export --onnx OUT.onnx`: a model or an ensemble as an
 * ONNX file for onnxruntime, OpenCV dnn and every other ONNX consumer, with
 * ferc's preprocessing inside the graph (ferc_model_export_onnx), so that a
 * deployment feeds FER2013 pixels and gets what `ferc eval` gets. */
#include "cli.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void help(void) {
    printf("usage: ferc export --onnx OUT.onnx [--model MODEL] [--quiet]\n\n"
           "Writes the model (a single network or an ensemble from 'ferc ensemble') as an\n"
           "ONNX file (opset 13) that does everything ferc does from a face to its\n"
           "probabilities: input \"pixels\" float32 N x 1 x 48 x 48, gray 0..255 (the\n"
           "FER2013 format; faces of other sizes: resize to 48x48 first); inside, /255,\n"
           "the model's resize and/or centre crop (ferc's own bilinear weights, as\n"
           "MatMuls), the network with inference batch norm, softmax, and for an ensemble\n"
           "the members' probabilities averaged with their weights; output \"probs\"\n"
           "float32 N x 7. The class names are in the model's metadata_props \"labels\"\n"
           "(comma-separated, in output order). The file is written atomically.\n\n"
           "  --onnx FILE     the ONNX file to write (required)\n"
           "  --model FILE    the model (default: $FERC_MODEL, models/seed2.ferc, models/seed.ferc)\n"
           "  --quiet         print nothing on success\n\n"
           "examples:\n"
           "  ferc export --onnx seed2.onnx --model models/seed2.ferc\n"
           "  ferc ensemble --out ens.ferc models/seed.ferc models/seed2.ferc\n"
           "  ferc export --onnx ens.onnx --model ens.ferc\n"
           "use (docs/onnx.md): python3 -c \"import cv2; net = cv2.dnn.readNetFromONNX('seed2.onnx')\"\n");
}

typedef struct {
    const char *onnx, *model;
    int quiet;
} export_args;

static const char *const options[] = {"--onnx", "--model", "--quiet", "--help", NULL};

/* -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, export_args *a) {
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { help(); return 0; }
        else if (cli_is(o, "--onnx")) { if (!(v = cli_value(argc, argv, &i, "--onnx"))) return 2; a->onnx = v; }
        else if (cli_is(o, "--model")) { if (!(v = cli_value(argc, argv, &i, "--model"))) return 2; a->model = v; }
        else if (!strcmp(o, "--quiet")) a->quiet = 1;
        else if (o[0] == '-' && o[1]) return cli_unknown_option("export", o, options);
        else return cli_usage_error("export", "unexpected argument '%s' (the model goes after --model)", o);
    }
    if (!a->onnx) return cli_usage_error("export", "--onnx FILE is required");
    if (cli_is_stdout(a->onnx)) return cli_usage_error("export", "--onnx: give a file name, not '-'");
    return -1;
}

int cmd_export(int argc, char **argv) {
    export_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    char mbuf[4096], tmp[4096];
    const char *path = cli_model_path("export", a.model, mbuf, sizeof mbuf);
    if (!path) return 1;
    if (cli_path_check("export", "--onnx", a.onnx)) return 1;
    ferc_error err = {0};
    ferc_model *m = NULL;
    if (ferc_model_load(path, &m, &err) != FERC_OK) return cli_error(&err);
    if (!a.quiet) cli_say_model(path, m);
    /* the library writes atomically; the CLI's temporary name on top is
     * removed when an interrupt ends the run half-way */
    int fd = cli_tmp_reserve("export", "--onnx", a.onnx, tmp, sizeof tmp);
    if (fd < 0) { ferc_model_free(m); return 1; }
    close(fd);
    ferc_status st = ferc_model_export_onnx(m, tmp, &err);
    if (cli_tmp_commit("export", "--onnx", a.onnx, tmp, st == FERC_OK) || st != FERC_OK) {
        ferc_model_free(m);
        return st != FERC_OK ? cli_error(&err) : 1;
    }
    struct stat sb;
    char what[64];
    if (ferc_model_num_members(m)) snprintf(what, sizeof what, "ensemble of %d models", ferc_model_num_members(m));
    else snprintf(what, sizeof what, "%s network", ferc_model_arch(m));
    if (!a.quiet)
        printf("wrote %s (%lld bytes): %s, input pixels N x 1 x 48 x 48 (0..255), output probs N x %d\n", a.onnx,
               stat(a.onnx, &sb) == 0 ? (long long)sb.st_size : -1LL, what, FERC_NUM_CLASSES);
    ferc_model_free(m);
    return 0;
}
