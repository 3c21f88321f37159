/* fuzz_spec.c — the architecture spec language (`--arch spec:...` and the
 * SPEC chunk of a model file): parsed and shaped for an input size taken
 * from the first byte; a spec small enough to allocate is built too, as
 * `ferc train` would. */
#include "fuzz_util.h"

#include "nn/nn.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 4096) return 0;
    char *spec = malloc(size);
    if (!spec) return 0;
    memcpy(spec, data + 1, size - 1);
    spec[size - 1] = 0;
    const int in = 8 + data[0] % 64;
    size_t np, ns;
    ferc_error err;
    if (net_count(spec, 1, in, in, &np, &ns, &err) == FERC_OK && np + ns < (4u << 20)) {
        ferc_net net;
        if (net_build(&net, spec, 1, in, in, &err) == FERC_OK) {
            if (net.nparams != np || net.nstate != ns) abort();   /* the two must agree */
            net_free(&net);
        }
    }
    free(spec);
    return 0;
}
