#!/bin/sh
# run.sh BUILD SECONDS [NAME...] — runs each fuzz harness BUILD/fuzz_NAME for
# SECONDS seconds on a scratch copy of its committed seed corpus (so that
# what a run finds never dirties tests/fuzz/corpus), with its dictionary
# when there is one, and fails when any harness reports a finding (crash,
# sanitizer report, leak, timeout, out-of-memory). One line per harness:
# executions, coverage (cov: edges, ft: features), corpus size.
set -u
build=$1 secs=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
names=${*:-$(ls "$build" | sed -n 's/^fuzz_\([a-z_]*\)$/\1/p')}
status=0
mkdir -p "$build/artifacts" "$build/logs"
for n in $names; do
    bin=$build/fuzz_$n
    [ -x "$bin" ] || { echo "fuzz $n: $bin is not built"; status=1; continue; }
    work=$(mktemp -d "${TMPDIR:-/tmp}/ferc-fuzz-$n.XXXXXX")   # per run: runs may overlap
    [ -d "$here/corpus/$n" ] && cp "$here/corpus/$n"/* "$work"/ 2>/dev/null
    dict=""
    [ -f "$here/$n.dict" ] && dict="-dict=$here/$n.dict"
    log=$build/logs/$n.$$.log
    # -rss_limit_mb: a loader that believes a hostile size is a finding;
    # -timeout: so is one that loops
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$build/artifacts/$n-" $dict "$work" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -E '^#[0-9]+.*cov:' "$log" | tail -1 | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/cov \1 ft \2 corpus \3/p')
    if [ $rc -ne 0 ]; then
        echo "fuzz $n: FINDING (exit $rc) after ${execs:-?} executions; log $log, artifacts $build/artifacts/$n-*"
        grep -E 'ERROR|runtime error|SUMMARY' "$log" | head -5
        status=1
    else
        echo "fuzz $n: ok, ${execs:-?} executions in ${secs}s, $cov"
        rm -f "$log"
    fi
    rm -rf "$work"
done
exit $status
