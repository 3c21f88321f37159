/* cmd_bench.c — `ferc bench`: training or inference speed of a network on
 * random FER-shaped data (the same work as ../shared/bench/torch_peer.py),
 * with throughput, FLOP rate, the fraction of the CPU's FMA peak, and the
 * peak resident memory of the process. */
#include "cli.h"

#include <string.h>
#include <sys/resource.h>

static void help(void) {
    printf(
        "usage: ferc bench [options]\n\n"
        "Times training steps (forward, softmax cross-entropy, backward, Adam at lr 1e-3)\n"
        "or inference (ferc_model_predict) of a network on random data of FER shape\n"
        "(N,1,48,48; inputs ~ N(0,1), random labels). After --warmup untimed batches, one\n"
        "timed pass goes over --images images in batches of --batch, exactly as\n"
        "../shared/bench/torch_peer.py times PyTorch, so the two can be compared.\n\n"
        "options:\n"
        "  --arch A          architecture: seed, seed2, vgg, or spec:SIZE:LAYERS, e.g. the\n"
        "                    ResNet of bench/resnet_compare.sh (default seed)\n"
        "  --mode M          train or infer (default train)\n"
        "  --batch B         images per batch (default 64)\n"
        "  --threads T       OpenMP threads (default 0 = every core)\n"
        "  --images N        images in the timed pass (default 4096; at least one batch)\n"
        "  --warmup W        untimed batches first (default 3)\n"
        "  --seed S          random seed of the weights and data (default 1)\n"
        "  --peak G          FMA peak per core in GFLOP/s for peak_fraction (default 234)\n"
        "  --bf16            convolutions after the first in bfloat16 (AMX / AVX512_BF16\n"
        "                    through oneDNN), float master weights; default float32\n"
        "  --profile         also time each stage of the network (forward and backward\n"
        "                    per fused block or layer, loss, optimiser), in ms per batch\n"
        "  --json            print one JSON line instead of text\n"
        "  --help            this text\n\n"
        "output: images_per_s, ms_per_image, gflops (work per second: 3x the forward\n"
        "FLOPs per image when training, 1x for inference; FLOPs are 2x the multiply-adds\n"
        "of conv and dense layers, as torch_peer.py counts), peak_fraction = gflops /\n"
        "(peak x threads), peak_rss_mb (getrusage maximum resident set of this process).\n"
        "Pin threads for stable numbers, e.g. OMP_PROC_BIND=true, or taskset -c 0,1.\n\n"
        "example:\n"
        "  ferc bench --arch seed --mode train --batch 64 --threads 2 --json\n"
        "  ferc bench --arch seed --mode infer --batch 1 --threads 1\n"
        "  bench/compare.sh      (ferc against PyTorch, several runs, median ratios)\n");
}

typedef struct {
    const char *arch, *mode;
    int batch, threads, images, warmup, seed, json, bf16, profile;
    float peak;
} bench_args;

static const char *const options[] = {"--arch", "--mode", "--batch", "--threads", "--images", "--warmup", "--seed",
                                      "--peak", "--json", "--bf16", "--profile", "--help", NULL};

/* -1 to go on, else the exit code (after --help or a usage error). */
static int parse_args(int argc, char **argv, bench_args *b) {
    const char *cmd = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
#define VAL() do { if (!(v = cli_value(argc, argv, &i, a))) return 2; } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { help(); return 0; }
        else if (cli_is(a, "--json")) b->json = 1;
        else if (cli_is(a, "--bf16")) b->bf16 = 1;
        else if (cli_is(a, "--profile")) b->profile = 1;
        else if (cli_is(a, "--arch")) { VAL(); b->arch = v; }
        else if (cli_is(a, "--mode")) {
            VAL();
            if (strcmp(v, "train") && strcmp(v, "infer")) return cli_usage_error(cmd, "--mode: '%s' is not train or infer", v);
            b->mode = v;
        }
        else if (cli_is(a, "--batch")) { VAL(); if (!cli_int(cmd, "--batch", v, 1, 65536, &b->batch)) return 2; }
        else if (cli_is(a, "--threads")) { VAL(); if (!cli_threads(cmd, "--threads", v, &b->threads)) return 2; }
        else if (cli_is(a, "--images")) { VAL(); if (!cli_int(cmd, "--images", v, 1, 1 << 24, &b->images)) return 2; }
        else if (cli_is(a, "--warmup")) { VAL(); if (!cli_int(cmd, "--warmup", v, 0, 1 << 20, &b->warmup)) return 2; }
        else if (cli_is(a, "--seed")) { VAL(); if (!cli_int(cmd, "--seed", v, 0, 2147483647, &b->seed)) return 2; }
        else if (cli_is(a, "--peak")) { VAL(); if (!cli_float(cmd, "--peak", v, 1e-3, 1e6, &b->peak)) return 2; }
        else return cli_unknown_option(cmd, a, options);
#undef VAL
    }
    return -1;
}

/* What the text and JSON outputs derive from a run. */
typedef struct {
    int train, threads;
    double rss_mb, ips, gflops, frac;
} bench_figures;

static void print_json(const bench_args *b, const ferc_bench_result *r, const bench_figures *f) {
    printf("{\"tool\": \"ferc\", \"arch\": \"%s\", \"mode\": \"%s\", \"batch\": %d, \"threads\": %d, "
           "\"images\": %d, \"seconds\": %.4f, \"images_per_s\": %.2f, \"ms_per_image\": %.4f, "
           "\"params\": %zu, \"fwd_mflops_per_image\": %.2f, \"gflops\": %.2f, \"peak_gflops\": %.1f, "
           "\"peak_fraction\": %.4f, \"peak_rss_mb\": %.1f, \"fused\": %s, \"precision\": \"%s\"}\n",
           b->arch, b->mode, b->batch, f->threads, r->images, r->seconds, f->ips, 1e3 / f->ips, r->params,
           r->fwd_flops / 1e6, f->gflops, b->peak * f->threads, f->frac, f->rss_mb, r->fused ? "true" : "false",
           b->bf16 ? "bf16" : "fp32");
    if (!b->profile) return;
    int nbatch = r->images / b->batch;
    printf("{\"profile\": [");
    for (int s = 0; s < r->nstages; s++)
        printf("%s{\"stage\": \"%s\", \"fwd_ms\": %.3f, \"bwd_ms\": %.3f, \"conv_fwd_ms\": %.3f, "
               "\"conv_bwd_ms\": %.3f}", s ? ", " : "", r->stage_name[s], 1e3 * r->stage_fwd[s] / nbatch,
               1e3 * r->stage_bwd[s] / nbatch, 1e3 * r->conv_fwd[s] / nbatch, 1e3 * r->conv_bwd[s] / nbatch);
    printf("], \"loss_ms\": %.3f, \"optim_ms\": %.3f, \"batch_ms\": %.3f}\n", 1e3 * r->loss_s / nbatch,
           1e3 * r->optim_s / nbatch, 1e3 * r->seconds / nbatch);
}

/* The per-stage table of --profile, in ms per batch. */
static void print_profile(const bench_args *b, const ferc_bench_result *r, const bench_figures *f) {
    int nbatch = r->images / b->batch, train = f->train;
    double tot = 0, peak = b->peak * f->threads;
    printf("  per batch of %d (ms):          forward  backward   share   oneDNN conv in it: fwd, bwd ms"
           " (GFLOP/s, %% of peak)\n", b->batch);
    for (int s = 0; s < r->nstages; s++) tot += r->stage_fwd[s] + r->stage_bwd[s];
    tot += r->loss_s + r->optim_s;
    double cf = 0, ct = 0;
    for (int s = 0; s < r->nstages; s++) {
        printf("    %-28s %8.3f  %8.3f  %5.1f%%", r->stage_name[s], 1e3 * r->stage_fwd[s] / nbatch,
               1e3 * r->stage_bwd[s] / nbatch, 100 * (r->stage_fwd[s] + r->stage_bwd[s]) / r->seconds);
        double fl = r->conv_flops_fwd[s] * r->images, g = train ? r->conv_flops_bwd[s] * r->images : 0;
        double t = r->conv_fwd[s] + (train ? r->conv_bwd[s] : 0);
        if (fl > 0 && t > 0) {
            printf("   %.3f, %.3f (%.0f, %.0f%%)", 1e3 * r->conv_fwd[s] / nbatch, 1e3 * r->conv_bwd[s] / nbatch,
                   (fl + g) / t / 1e9, 100 * (fl + g) / t / 1e9 / peak);
            cf += fl + g; ct += t;
        }
        printf("\n");
    }
    if (ct > 0)
        printf("    oneDNN convolutions overall: %.0f GFLOP/s = %.0f%% of the %.0f GFLOP/s peak (%.0f%% of the time)\n",
               cf / ct / 1e9, 100 * cf / ct / 1e9 / peak, peak, 100 * ct / r->seconds);
    if (train) {
        printf("    %-28s %8.3f  %8s  %5.1f%%\n", "softmax cross-entropy", 1e3 * r->loss_s / nbatch, "",
               100 * r->loss_s / r->seconds);
        printf("    %-28s %8s  %8.3f  %5.1f%%\n", "optimiser (Adam)", "", 1e3 * r->optim_s / nbatch,
               100 * r->optim_s / r->seconds);
    }
    printf("    %-28s %8.3f ms per batch (stages %.1f%% of it)\n", "total", 1e3 * r->seconds / nbatch,
           100 * tot / r->seconds);
}

static void print_text(const bench_args *b, const ferc_bench_result *r, const bench_figures *f) {
    int T = f->threads;
    printf("%s %s (%s), batch %d, %d thread%s: %d images in %.3f s\n", b->arch, b->mode, b->bf16 ? "bf16" : "fp32",
           b->batch, T, T == 1 ? "" : "s", r->images, r->seconds);
    printf("  %.1f images/s, %.4f ms per image\n", f->ips, 1e3 / f->ips);
    printf("  %.2f MFLOP forward per image, %s work %.1f GFLOP/s = %.1f%% of the %.0f GFLOP/s peak\n",
           r->fwd_flops / 1e6, f->train ? "3x" : "1x", f->gflops, 100 * f->frac, b->peak * T);
    printf("  peak RSS %.1f MB; fused blocks %s%s%s\n", f->rss_mb, r->fused ? "on" : "off", r->note[0] ? ": " : "",
           r->note);
    if (b->profile) print_profile(b, r, f);
}

int cmd_bench(int argc, char **argv) {
    bench_args b = {.arch = "seed", .mode = "train", .batch = 64, .images = 4096, .warmup = 3, .seed = 1,
                    .peak = 234.0f};
    int rc = parse_args(argc, argv, &b);
    if (rc >= 0) return rc;
    bench_figures f = {.train = !strcmp(b.mode, "train"), .threads = b.threads > 0 ? b.threads : ferc_threads(0)};
    ferc_bench_result r;
    ferc_error err = {0};
    ferc_bench_opts o = {.arch = b.arch, .train = f.train, .batch = b.batch, .threads = f.threads,
                         .images = b.images, .warmup = b.warmup, .seed = (uint64_t)b.seed,
                         .bf16 = b.bf16, .profile = b.profile};
    if (ferc_bench(&o, &r, &err) != FERC_OK)
        return cli_error(&err);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    f.rss_mb = ru.ru_maxrss / 1024.0;
    f.ips = r.images / r.seconds;
    double work = (f.train ? 3.0 : 1.0) * r.fwd_flops;
    f.gflops = work * f.ips / 1e9;
    f.frac = f.gflops / (b.peak * f.threads);
    if (b.json) print_json(&b, &r, &f);
    else print_text(&b, &r, &f);
    return 0;
}
