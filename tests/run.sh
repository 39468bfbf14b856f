#!/usr/bin/env bash
# tests/run.sh - run every suite against the sanitizer build and print one
# closing line "N passed, N failed". Exit status is non-zero on any failure.
#   unit:  build/asan/tests/test_* (cmocka, ASan+UBSan)
#   integ: tests/integ/NN-*.py against build/asan/warden (real clients)
# TESTS=pattern limits the integration files run (e.g. TESTS=02-).
set -u
cd "$(dirname "$0")/.."
export WARDEN="${WARDEN:-$PWD/build/asan/warden}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
logdir=$(mktemp -d /tmp/warden-tests.XXXXXX)
passed=0
failed=0
failures=()

count_cmocka() { # file -> adds to passed/failed
    local out=$1 p f
    p=$(grep -aoP '\[  PASSED  \] \K[0-9]+' "$out" | tail -n1)
    f=$(grep -aoP '\[  FAILED  \] \K[0-9]+' "$out" | tail -n1)
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    echo "${f:-0}"
}

echo "== unit tests"
for t in build/asan/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    out="$logdir/$name.log"
    timeout 300 "$t" >"$out" 2>&1
    rc=$?
    nf=$(count_cmocka "$out")
    if [ "$rc" != 0 ] && [ "$nf" = 0 ]; then
        failed=$((failed + 1))
        nf=1
    fi
    if [ "$nf" != 0 ]; then
        failures+=("$name")
        tail -n 40 "$out"
    fi
    printf '%-40s %s\n' "$name" "$([ "$nf" = 0 ] && echo ok || echo FAILED)"
done

echo "== integration tests"
for t in tests/integ/[0-9][0-9]-*.py; do
    [ -e "$t" ] || continue
    case "$(basename "$t")" in *${TESTS:-}*) ;; *) continue ;; esac
    name=$(basename "$t" .py)
    out="$logdir/$name.log"
    timeout 240 /usr/bin/python3 "$t" >"$out" 2>&1
    rc=$?
    p=$(grep -c '^PASS ' "$out")
    f=$(grep -c '^FAIL ' "$out")
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        f=1
        echo "FAIL $name: exited $rc" >>"$out"
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$f" != 0 ]; then
        failures+=("$name")
        grep -a '^FAIL ' "$out"
        tail -n 20 "$out"
    fi
    printf '%-40s %s passed, %s failed\n' "$name" "$p" "$f"
done

if ((${#failures[@]})); then
    echo "failed suites: ${failures[*]} (logs in $logdir)"
else
    rm -rf "$logdir"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
