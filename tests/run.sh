#!/usr/bin/env bash
# tests/run.sh - run every suite against the sanitizer build and print one
# closing line "N passed, N failed". Exit status is non-zero on any failure.
#   unit:  build/asan/tests/test_* (cmocka, ASan+UBSan)
#   integ: tests/integ/NN-*.py against build/asan/warden (real clients)
# TESTS=pattern limits the integration files run (e.g. TESTS=02-); TEST_JOBS=N runs N
# integration files at once (default 2).
set -u
cd "$(dirname "$0")/.."
export WARDEN="${WARDEN:-$PWD/build/asan/warden}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
logdir=$(mktemp -d /tmp/warden-tests.XXXXXX)
passed=0
failed=0
failures=()

echo "== unit tests"
for t in build/asan/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    out="$logdir/$name.log"
    timeout 300 "$t" >"$out" 2>&1
    rc=$?
    np=$(grep -aoP '\[  PASSED  \] \K[0-9]+' "$out" | tail -n1)
    nf=$(grep -aoP '\[  FAILED  \] \K[0-9]+' "$out" | tail -n1)
    np=${np:-0}
    nf=${nf:-0}
    passed=$((passed + np))
    failed=$((failed + nf))
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

echo "== valgrind (parsers' unit tests without sanitizers)"
for t in build/vg/tests/test_*; do
    [ -x "$t" ] || continue
    name="valgrind-$(basename "$t")"
    out="$logdir/$name.log"
    if timeout 600 valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        "$t" >"$out" 2>&1; then
        passed=$((passed + 1))
        printf '%-40s ok\n' "$name"
    else
        failed=$((failed + 1))
        failures+=("$name")
        tail -n 30 "$out"
        printf '%-40s FAILED\n' "$name"
    fi
done

echo "== fuzzers (bounded runs over the seed corpus)"
for f in build/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    seeds="tests/fuzz/${name#fuzz_}"
    work=$(mktemp -d "$logdir/corpus.XXXXXX")
    [ -d "$seeds" ] && cp -r "$seeds"/. "$work"/
    out="$logdir/$name.log"
    if (cd "$logdir" && timeout 120 "$OLDPWD/$f" -max_total_time="${FUZZ_SECONDS:-15}" \
        -rss_limit_mb=2048 "$work") >"$out" 2>&1; then
        passed=$((passed + 1))
        printf '%-40s ok (%s)\n' "$name" "$(grep -ao 'Done [0-9]* runs' "$out" | tail -n1)"
    else
        failed=$((failed + 1))
        failures+=("$name")
        tail -n 30 "$out"
        printf '%-40s FAILED\n' "$name"
    fi
    rm -rf "$work"
done

echo "== integration tests"
# Files run TEST_JOBS at a time (default 2: they mostly wait on sockets and
# timers, and each picks its own ports, directories and tmux server); the
# results are reported in file order.
names=()
for t in tests/integ/[0-9][0-9]-*.py; do
    [ -e "$t" ] || continue
    case "$(basename "$t")" in *${TESTS:-}*) ;; *) continue ;; esac
    name=$(basename "$t" .py)
    names+=("$name")
    while [ "$(jobs -rp | wc -l)" -ge "${TEST_JOBS:-2}" ]; do
        wait -n
    done
    (
        timeout 240 /usr/bin/python3 "$t" >"$logdir/$name.log" 2>&1
        echo $? >"$logdir/$name.rc"
    ) &
done
wait
for name in "${names[@]}"; do
    out="$logdir/$name.log"
    rc=$(cat "$logdir/$name.rc" 2>/dev/null || echo 1)
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
