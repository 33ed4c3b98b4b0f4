#!/usr/bin/env bash
# Measures the package's hand-off with a small probe (Benchmarks/Probe/main.swift)
# built in release mode against the working tree and against each git revision
# REV (checked out in a temporary worktree), so that two versions are compared
# by the same program:
#
#   Benchmarks/Scripts/probe.sh instructions [objects|arrays|large] [REV ...]
#   Benchmarks/Scripts/probe.sh drain [objects|arrays|large] [REV ...]
#   Benchmarks/Scripts/probe.sh cost [REV ...]
#   Benchmarks/Scripts/probe.sh producers [N] [REV ...]
#   Benchmarks/Scripts/probe.sh burst [REV ...]
#   Benchmarks/Scripts/probe.sh rounds [THREADS] [REV ...]
#   Benchmarks/Scripts/probe.sh first [REV ...]
#   Benchmarks/Scripts/probe.sh cli [REV ...]
#   Benchmarks/Scripts/probe.sh scaling [REV ...]
#   Benchmarks/Scripts/probe.sh demo [REV ...]
#   Benchmarks/Scripts/probe.sh latency [REV ...]
#
# instructions: callgrind's count of instructions per value on the producer's
#   thread (which also makes the values) and on the worker's: repeatable to a
#   tenth of an instruction on a quiet machine. Under load, valgrind schedules
#   the two threads differently and work shifts between the columns; compare
#   their sums then. Needs valgrind (apt-get install valgrind).
# drain: the worker's own time per value to destroy a full queue, median of 15
#   rounds; wall-clock, so as noisy as the machine.
# cost: the producer's time per small object handed over, and the time until
#   all are destroyed, each as a ratio to releasing them inline (medians of 9
#   rounds), for an unbounded worker and the shared one. Wall-clock.
# producers: the same with N threads (default 4) handing over 1M / N each at
#   once, the slowest thread's time against the slowest inline release, and
#   the minor page faults the producers took (a backlog's fresh chunks).
# rounds: when deferring does not pay. THREADS threads (default 4) each build,
#   sum and drop a 10,000-key [Int: [Int]] in a loop, for 3 s per mode (each
#   twice, alternating): rounds/s and the p99 round, inline, on a default
#   (strict) worker and on a `.server` one, as ratios to inline.
# burst: 300 arrays of 5,000 objects handed over at once, then nothing: the
#   time until a time-bounded worker (20 ms) has destroyed them all, as a ratio
#   to an unbounded one's (both at .batch; 9 alternating rounds, the ratio of
#   their totals, the median and the worst).
# first: the first hand-off of a fresh process, to DropWorker.shared (which it
#   creates), to a private worker made just before, and to DropWorker.shared
#   from an actor while 8 threads keep every core busy ("busy"): the median of 7
#   processes each, in µs, and every process's figure. Wall-clock; run it on an
#   idle machine.
# cli: a CLI that builds a 1.5-million-record [String: [Record]], prints its
#   answer and exits: the time from the answer until the process has ended,
#   dropping inline, deferred to DropWorker.shared, and deferred with
#   `DropWorker.shared.drainsAtExit = false`; medians of 7 processes per mode,
#   alternating.
# scaling: Benchmarks/Scaling (the working tree's benchmark, built against each
#   version of the library) with SCALING_ARGS, by default the objects and
#   arrays workloads at P = 1, 2, 4 against inline, an unbounded worker, the
#   time bound and the pool: its tables, every ratio to inline in the same
#   repeat. PROBE_PRELOAD selects the allocator as below.
# demo: each version's own demo (`swift run -c release demo`), in full.
# latency: the working tree's ordo-one benchmark "Hand-off latency, 20k objects
#   while busy" (Benchmarks/Benchmarks), built against each version, for
#   DropWorker.shared and ShardedDropPool: PROBE_REPEATS runs (default 9) of
#   each version, alternating, and the median of their p99s, in ns. Each run
#   times 200 hand-offs, or DEFERDROP_LATENCY_SAMPLES: with 200 the p99 is the
#   third-worst hand-off and moves widely between runs; 2000 steadies it. Needs
#   libjemalloc-dev, or DEFERDROP_BENCHMARK_ALLOCATOR=glibc.
#
# objects: 1,000,000 small objects; arrays: 200,000 one-element arrays (each
# boxed); large: 1,000 arrays of 1,000 objects. The allocator is glibc's (the
# probe does not enable the Jemalloc trait); set PROBE_PRELOAD to a library to
# preload, e.g. PROBE_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2.
# PROBE_TRAITS builds the package with traits, e.g. PROBE_TRAITS=Metrics: the
# workers then report to swift-metrics' default factory (no backend is
# bootstrapped), which shows what the trait costs the producer (nothing) and
# the worker (its calls, not a backend's work). Revisions older than the trait
# do not have it: compare the working tree with and without instead.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
what=${1:?"usage: $0 instructions|drain|cost [objects|arrays|large] [REV ...]"}; shift
mode=objects
case "${1:-}" in objects|arrays|large) mode=$1; shift ;; esac
producers=4
if [ "$what" = producers ] || [ "$what" = rounds ]; then case "${1:-}" in [0-9]*) producers=$1; shift ;; esac; fi
case "$mode" in objects) values=1000000 ;; arrays) values=200000 ;; large) values=1000 ;; esac
traits=""
for trait in $(echo "${PROBE_TRAITS:-}" | tr , " "); do traits+="\"$trait\", "; done
label_suffix=${PROBE_TRAITS:+"+$PROBE_TRAITS"}
work=$(mktemp -d)
trap 'git -C "$root" worktree prune; rm -rf "$work"' EXIT

build() {  # label, package path; prints the stripped binary's path
    local probe="$work/probe-$1"
    mkdir -p "$probe/Sources/probe"
    cp "$root"/Benchmarks/Probe/*.swift "$probe/Sources/probe/"
    cat > "$probe/Package.swift" <<PACKAGE
// swift-tools-version: 6.1
import PackageDescription
let package = Package(
    name: "probe",
    dependencies: [.package(name: "DeferDrop", path: "$2", traits: [$traits])],
    targets: [.executableTarget(name: "probe", dependencies: [.product(name: "DeferDrop", package: "DeferDrop")])]
)
PACKAGE
    swift build -c release --package-path "$probe" >/dev/null
    # valgrind 3.19 cannot read the DWARF that Swift 6.3 writes: strip it.
    cp "$(swift build -c release --package-path "$probe" --show-bin-path)/probe" "$probe/probe.bin"
    strip --strip-debug "$probe/probe.bin"
    echo "$probe/probe.bin"
}

build_scaling() {  # label, package path; prints the binary's path
    local scaling="$work/scaling-$1"
    mkdir -p "$scaling"
    cp -R "$root/Benchmarks/Scaling/Sources" "$scaling/"
    sed "s|path: \"../..\"|path: \"$2\"|" "$root/Benchmarks/Scaling/Package.swift" > "$scaling/Package.swift"
    swift build -c release --package-path "$scaling" >/dev/null
    echo "$(swift build -c release --package-path "$scaling" --show-bin-path)/scaling"
}

measure() {  # label, package path
    local label=$1 binary
    case "$what" in
    scaling)
        binary=$(build_scaling "$1" "$2")
        local allocator=glibc
        if [ -n "${PROBE_PRELOAD:-}" ]; then allocator=$(basename "$PROBE_PRELOAD"); fi
        echo "## $label"
        # shellcheck disable=SC2086 # SCALING_ARGS is a list of options
        LD_PRELOAD="${PROBE_PRELOAD:-}" "$binary" \
            ${SCALING_ARGS:---producers 1,2,4 --workloads objects,arrays --modes inline,worker,worker-server,pool} \
            --allocator "$allocator"
        return
        ;;
    demo)
        swift build -c release --package-path "$2" --product demo >/dev/null
        echo "## $label"
        LD_PRELOAD="${PROBE_PRELOAD:-}" "$(swift build -c release --package-path "$2" --show-bin-path)/demo"
        return
        ;;
    esac
    binary=$(build "$1" "$2")
    case "$what" in
    instructions)
        valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$binary.cg" \
            "$binary" "$mode" >/dev/null 2>"$binary.valgrind.txt"
        # Thread 1 makes the values and hands them over; thread 2 is the worker.
        local producer worker
        producer=$(sed -n 's/^summary: //p' "$binary.cg-01")
        worker=$(sed -n 's/^summary: //p' "$binary.cg-02")
        printf '%-12s %-8s producer %8.1f   worker %8.1f instructions per value\n' \
            "$label" "$mode" "$(echo "$producer / $values" | bc -l)" "$(echo "$worker / $values" | bc -l)"
        ;;
    drain)
        printf '%-12s %-8s %s\n' "$label" "$mode" \
            "$(LD_PRELOAD="${PROBE_PRELOAD:-}" "$binary" "$mode" drain)"
        ;;
    cost)
        LD_PRELOAD="${PROBE_PRELOAD:-}" "$binary" objects cost | sed "s/^/$label /"
        ;;
    rounds)
        LD_PRELOAD="${PROBE_PRELOAD:-}" "$binary" rounds "$producers" | sed "s/^/$label /"
        ;;
    burst)
        LD_PRELOAD="${PROBE_PRELOAD:-}" "$binary" burst | sed "s/^/$label /"
        ;;
    first)
        local target runs
        for target in shared private busy; do
            runs=$(for _ in 1 2 3 4 5 6 7; do LD_PRELOAD="${PROBE_PRELOAD:-}" "$binary" first "$target"; done | sort -n)
            printf '%-12s first hand-off to the %-7s worker: median %s µs (%s)\n' \
                "$label" "$target" "$(echo "$runs" | sed -n 4p)" "$(echo $runs)"
        done
        ;;
    cli)
        LD_PRELOAD="${PROBE_PRELOAD:-}" "$binary" cli 7 | sed "s/^/$label /"
        ;;
    producers)
        LD_PRELOAD="${PROBE_PRELOAD:-}" "$binary" objects producers "$producers" | sed "s/^/$label /"
        ;;
    *) echo "$0: measure 'instructions', 'drain', 'cost', 'producers', 'rounds', 'burst', 'first', 'cli', 'scaling', 'demo' or 'latency', not '$what'" >&2; exit 2 ;;
    esac
}

build_benchmarks() {  # label, package path; prints the benchmark package's path
    local bench="$work/benchmarks-$1"
    mkdir -p "$bench"
    cp -R "$root/Benchmarks/Benchmarks" "$bench/"
    sed "s|path: \"..\"|path: \"$2\"|" "$root/Benchmarks/Package.swift" > "$bench/Package.swift"
    swift package --package-path "$bench" benchmark list >/dev/null 2>&1
    echo "$bench"
}

# One run of the latency benchmark of the package at $1: "mode p99" lines.
latency_p99s() {
    swift package --package-path "$1" benchmark --no-progress --format markdown \
        --filter '^Hand-off latency, 20k objects while busy · (DropWorker.shared|ShardedDropPool)$' 2>/dev/null |
        awk -F'|' '/^### / { mode = $0; sub(/.*· /, "", mode) } /wall clock/ { gsub(/ /, "", $8); print mode, $8 }'
}

if [ "$what" = latency ]; then
    labels=("working-tree")
    packages=("$(build_benchmarks working-tree "$root")")
    for rev in "$@"; do
        git -C "$root" worktree add --detach -q "$work/tree-$rev" "$rev"
        labels+=("$rev")
        packages+=("$(build_benchmarks "$rev" "$work/tree-$rev")")
    done
    for _ in $(seq "${PROBE_REPEATS:-9}"); do
        for index in "${!labels[@]}"; do
            latency_p99s "${packages[$index]}" | sed "s/^/${labels[$index]} /" >> "$work/latency.txt"
        done
    done
    for label in "${labels[@]}"; do
        for mode in DropWorker.shared ShardedDropPool; do
            p99s=$(awk -v label="$label" -v mode="$mode" '$1 == label && $2 == mode { print $3 }' "$work/latency.txt" | sort -n)
            count=$(echo "$p99s" | wc -l)
            printf '%-12s %-18s p99 median %6s ns of %d runs (%s)\n' "$label" "$mode" \
                "$(echo "$p99s" | sed -n "$(((count + 1) / 2))p")" "$count" "$(echo $p99s)"
        done
    done
    exit 0
fi

measure "working-tree$label_suffix" "$root"
for rev in "$@"; do
    git -C "$root" worktree add --detach -q "$work/tree-$rev" "$rev"
    measure "$rev$label_suffix" "$work/tree-$rev"
done
