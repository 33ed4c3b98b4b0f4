#!/usr/bin/env bash
# Checks the hand-off protocol model (handoff.pml) exhaustively with spin:
# every configuration must verify with no error, and every known-bad variant
# must be rejected (so the model is shown able to find what it checks for).
# Needs spin (Debian package `spin`) and a C compiler; run from anywhere.
# Runs two checks at a time: under a minute on a 2-core machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cc=${CC:-$(command -v gcc || command -v clang || command -v cc)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# verify NAME EXPECT FLAGS...: EXPECT is "pass" or "fail". Runs in a folder
# of its own, so that two can run at once.
verify() {
    local name=$1 expect=$2
    shift 2
    mkdir "$work/$name" && cd "$work/$name"
    spin "$@" -a "$here/handoff.pml" >/dev/null
    # -DCOLLAPSE: exact state compression (not hashing), so the search stays exhaustive.
    "$cc" -O2 -DSAFETY -DCOLLAPSE -DMEMLIM=6000 -w -o pan pan.c
    local start=$SECONDS
    ./pan -m300000 > "$name.out" 2>&1 || true
    local errors
    errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$name.out")
    local states
    states=$(sed -n 's/^ *\([0-9e.+]*\) states, stored.*/\1/p' "$name.out")
    if [ -z "$errors" ]; then
        echo "verification: $name: spin did not finish" >&2
        cat "$name.out" >&2
        exit 1
    fi
    if grep -q "search not completed\|max search depth too small" "$name.out"; then
        echo "verification: $name: the search was not exhaustive" >&2
        cat "$name.out" >&2
        exit 1
    fi
    if [ "$expect" = pass ] && [ "$errors" -ne 0 ]; then
        echo "verification: $name: spin found an error" >&2
        cat "$name.out" >&2
        spin -t -p "$@" "$here/handoff.pml" | tail -60 >&2 || true
        exit 1
    fi
    if [ "$expect" = fail ] && [ "$errors" -eq 0 ]; then
        echo "verification: $name: a known-bad variant was not rejected: the model no longer checks it" >&2
        exit 1
    fi
    local found
    found=$(grep -m1 -o "pan:1: .*" "$name.out" || true)
    printf 'verification: %-28s %s (%s states, %d s)%s\n' "$name" \
        "$([ "$expect" = pass ] && echo verified || echo rejected, as it must be)" "$states" \
        $((SECONDS - start)) "${found:+: ${found#pan:1: }}"
}

checks=(
    "base pass"
    "shutdown pass -DSHUTDOWN"
    "time-bound pass -DTIME_BOUND"
    "count-bound pass -DBOUND=1"
    "count-bound-shutdown pass -DBOUND=1 -DSHUTDOWN"
    "count-bound-stride pass -DBOUND=2 -DSTRIDE=2"
    "order-across-threads pass -DHOP"
    "order-across-shutdown pass -DHOP -DSHUTDOWN"
    "producer-fence pass -DPRODUCER_FENCE"
    "producer-fence-shutdown pass -DPRODUCER_FENCE -DSHUTDOWN"
    "fence-switch pass -DFENCE_SWITCH"
    "fence-switch-three-values pass -DFENCE_SWITCH -DVALUES=3"
    "fence-switch-shutdown pass -DFENCE_SWITCH -DSHUTDOWN"
    "broken-fence-bit-read-early fail -DFENCE_SWITCH -DBROKEN_FENCE_BIT_READ_EARLY -DVALUES=3"
    "broken-no-fence fail -DBROKEN_NO_FENCE"
    "broken-no-fence-shutdown fail -DSHUTDOWN -DBROKEN_NO_FENCE"
    "broken-rescan-lanes-only fail -DBROKEN_RESCAN_LANES_ONLY"
    "broken-flush-skips-lanes fail -DBROKEN_FLUSH_SKIPS_LANES"
    "broken-ordered-through-lane fail -DHOP -DBROKEN_ORDERED_THROUGH_LANE"
    "broken-append-after-unlock fail -DBOUND=1 -DBROKEN_APPEND_AFTER_UNLOCK"
    "broken-no-boundary-wake fail -DBOUND=2 -DSTRIDE=2 -DBROKEN_NO_BOUNDARY_WAKE"
    "broken-no-mark fail -DBROKEN_NO_MARK"
)
parallel=${VERIFY_JOBS:-2}
failed=0
running=0
for check in "${checks[@]}"; do
    if [ "$running" -ge "$parallel" ]; then
        wait -n || failed=1
        running=$((running - 1))
    fi
    # shellcheck disable=SC2086 # the flags are words
    (verify $check) &
    running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
    wait -n || failed=1
    running=$((running - 1))
done
if [ "$failed" -ne 0 ]; then
    echo "verification: the hand-off model does not hold (see above)" >&2
    exit 1
fi
echo "verification: the hand-off model holds"
