#!/usr/bin/env bash
# Instructions per value handed over, on the producer's thread and on the
# worker's, counted by callgrind: repeatable to the instruction for one binary,
# whatever else the machine is doing, where wall-clock figures here vary by
# 10-30% from run to run.
#
#   Benchmarks/Scripts/count-instructions.sh [objects|arrays|large] [REV ...]
#
# objects: 1,000,000 small class instances; arrays: 200,000 one-element
# arrays (each boxed); large: 1,000 arrays of 1,000 objects.
#
# Measures the working tree, then each git revision REV (checked out in a
# temporary worktree), with the same probe (Benchmarks/Instructions/main.swift)
# built in release mode against each. Needs valgrind (apt-get install valgrind).
# The allocator is glibc's: the probe package does not enable the Jemalloc trait.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
mode=objects
case "${1:-}" in objects|arrays|large) mode=$1; shift ;; esac
case "$mode" in objects) values=1000000 ;; arrays) values=200000 ;; large) values=1000 ;; esac
work=$(mktemp -d)
trap 'git -C "$root" worktree prune; rm -rf "$work"' EXIT

measure() {  # label, package path
    local label=$1 tree=$2 probe="$work/probe-$1"
    mkdir -p "$probe/Sources/probe"
    cp "$root/Benchmarks/Instructions/main.swift" "$probe/Sources/probe/main.swift"
    cat > "$probe/Package.swift" <<PACKAGE
// swift-tools-version: 6.1
import PackageDescription
let package = Package(
    name: "probe",
    dependencies: [.package(name: "DeferDrop", path: "$tree")],
    targets: [.executableTarget(name: "probe", dependencies: [.product(name: "DeferDrop", package: "DeferDrop")])]
)
PACKAGE
    swift build -c release --package-path "$probe" >/dev/null
    # valgrind 3.19 cannot read the DWARF that Swift 6.3 writes: strip it.
    cp "$(swift build -c release --package-path "$probe" --show-bin-path)/probe" "$probe/probe.bin"
    strip --strip-debug "$probe/probe.bin"
    valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$probe/cg" \
        "$probe/probe.bin" "$mode" >/dev/null 2>"$probe/valgrind.txt"
    # Thread 1 makes the values and hands them over; thread 2 is the worker.
    local producer worker
    producer=$(sed -n 's/^summary: //p' "$probe/cg-01")
    worker=$(sed -n 's/^summary: //p' "$probe/cg-02")
    printf '%-12s %-8s producer %6.1f   worker %6.1f instructions per value\n' \
        "$label" "$mode" "$(echo "$producer / $values" | bc -l)" "$(echo "$worker / $values" | bc -l)"
}

measure "working-tree" "$root"
for rev in "$@"; do
    git -C "$root" worktree add --detach -q "$work/tree-$rev" "$rev"
    measure "$rev" "$work/tree-$rev"
done
