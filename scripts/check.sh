#!/bin/sh
# check.sh — the test command: installs the build and test dependencies
# (Debian packages only), builds, runs the test suite, then runs it again
# under AddressSanitizer + UndefinedBehaviorSanitizer, and ends with one
# summary line "N passed, N failed, N skipped" over both runs.
set -u
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh || { echo "check.sh: installing dependencies failed"; exit 1; }
export OMP_WAIT_POLICY=PASSIVE   # tests share the machine: do not spin-wait
log=$(mktemp)
status=0
make -j2 all >/dev/null || { echo "check.sh: build failed"; make all 2>&1 | tail -30; exit 1; }
./build/test_ferc "$@" | tee "$log" || status=1
make -j2 BUILD=build-asan OPT="-O1 -g -march=native -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
     LDLIBS="-ldnnl -lcairo -lxml2 -lpng -ljpeg -lz -lm -fopenmp -fsanitize=address,undefined" \
     build-asan/test_ferc build-asan/ferc >/dev/null || { echo "check.sh: sanitizer build failed"; exit 1; }
echo "== sanitizer build (ASan + UBSan) =="
ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(pwd)/tests/lsan.supp UBSAN_OPTIONS=print_stacktrace=1 FERC_ASAN=1 FERC_BIN=build-asan/ferc \
    ./build-asan/test_ferc "$@" | sed 's/^\([0-9]* passed\)/asan: \1/' | tee -a "$log" || status=1
# Fuzz smoke (issue 18): every libFuzzer harness of tests/fuzz/ for 2 s, so
# that they keep building and their seeds keep passing; one harness is one
# test in the count (skipped, with the reason, without clang/libFuzzer, and
# when the run is filtered to named tests).
fuzz_smoke() {
    probe=$(mktemp -d)
    echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' > "$probe/p.c"
    if [ "$#" -gt 0 ] || ! clang-14 -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" 2>/dev/null; then
        rm -rf "$probe"
        [ "$#" -gt 0 ] && echo "fuzz: skipped (a filtered run)" || echo "fuzz: skipped: clang-14 with libFuzzer is not installed (apt-get install clang-14 libfuzzer-14-dev)"
        echo "fuzz: 0 passed, 0 failed, 1 skipped"
        return
    fi
    rm -rf "$probe"
    echo "== fuzz smoke (libFuzzer + ASan/UBSan, 2 s per harness) =="
    if ! make -j2 fuzz-build >/dev/null 2>&1; then echo "fuzz: 0 passed, 1 failed, 0 skipped (the harnesses do not build: make fuzz-build)"; return; fi
    out=$(sh tests/fuzz/run.sh build-fuzz 2)
    echo "$out"
    echo "fuzz: $(echo "$out" | grep -c ': ok,') passed, $(echo "$out" | grep -c '^fuzz .*: \(FINDING\|.*not built\)') failed, 0 skipped"
}
fuzz_smoke "$@" | tee -a "$log"
p=$(grep -E '^(asan: |fuzz: )?[0-9]+ passed' "$log" | awk '{for(i=1;i<=NF;i++) if($i ~ /^passed/) s+=$(i-1)} END{print s+0}')
f=$(grep -E '^(asan: |fuzz: )?[0-9]+ passed' "$log" | awk '{for(i=1;i<=NF;i++) if($i ~ /^failed/) s+=$(i-1)} END{print s+0}')
k=$(grep -E '^(asan: |fuzz: )?[0-9]+ passed' "$log" | awk '{for(i=1;i<=NF;i++) if($i ~ /^skipped/) s+=$(i-1)} END{print s+0}')
rm -f "$log"
[ "$f" = 0 ] || status=1
echo "$p passed, $f failed, $k skipped"
exit $status
