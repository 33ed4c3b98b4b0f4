#!/usr/bin/env bash
# Drives the example server with wrk, on loopback, in every mode, at light load
# (1 connection) and at saturation (8 connections), and writes a table of
# requests/s, p50/p90/p99/max latency, peak resident memory and CPU time per
# request for each mode.
#
#     Scripts/load.sh                                  # defaults below, about 7 minutes
#     Scripts/load.sh --duration 15 --repeats 3 --workloads map --size 10000
#     Scripts/load.sh --traits Jemalloc                # jemalloc allocates (libjemalloc-dev)
#     Scripts/load.sh --modes "inline timed" --server-args "--maximum-wait-ms 50"
#     Scripts/load.sh --loads saturated --workloads objects --modes "inline stopped timed"
#
# Each run starts a fresh server (so no run inherits another's backlog or heap),
# runs wrk for a bounded time, reads the server's peak RSS (VmHWM) and CPU time
# from /proc, then stops it with SIGTERM, which drains every worker gracefully,
# and times that drain. Modes are interleaved (every mode once, then again), so
# a drift in the machine's speed spreads over all of them. Needs wrk
# (`apt-get install wrk`) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=10
repeats=2
size=50000
workloads="map objects"
modes="inline shared pool strict dispatch"
light=1
saturated=8
traits=""
out=""
port=18080
server_args=""
loads="light saturated"

while [ $# -gt 0 ]; do
    case "$1" in
        --duration) duration=$2 ;;
        --repeats) repeats=$2 ;;
        --size) size=$2 ;;
        --workloads) workloads=$2 ;;
        --modes) modes=$2 ;;
        --saturated-connections) saturated=$2 ;;
        --traits) traits=$2 ;;
        --out) out=$2 ;;
        --port) port=$2 ;;
        --server-args) server_args=$2 ;;
        --loads) loads=$2 ;;
        *) echo "load.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift 2
done

for tool in wrk curl python3; do
    command -v "$tool" >/dev/null || { echo "load.sh: needs $tool (apt-get install $tool)" >&2; exit 1; }
done
[ "$repeats" -ge 1 ] && [ "$duration" -ge 1 ] || { echo "load.sh: --repeats and --duration must be at least 1" >&2; exit 2; }

build=(-c release)
[ -n "$traits" ] && build+=(--traits "$traits") && build+=(--scratch-path ".build-$traits")
swift build "${build[@]}" >&2
server="$(swift build "${build[@]}" --show-bin-path)/HummingbirdServer"

allocator=glibc
[[ "$traits" == *Jemalloc* ]] && allocator=jemalloc
out=${out:-Results/load-$(date -u +%Y%m%dT%H%M%SZ)-$allocator}
mkdir -p "$out"
runs="$out/runs.tsv"
printf 'repeat\tload\tconnections\tworkload\tmode\trequests_per_s\tp50_ms\tp90_ms\tp99_ms\tmax_ms\tpeak_rss_mib\tcpu_ms_per_request\tdrain_s\terrors\tdeferred\tdestroyed_inline\n' > "$runs"

ticks=$(getconf CLK_TCK)
# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

run_once() {
    local repeat=$1 load=$2 connections=$3 workload=$4 mode=$5
    # shellcheck disable=SC2086 # the extra arguments are meant to split
    "$server" --port "$port" --size "$size" $server_args > "$out/server.log" 2>&1 &
    local pid=$!
    local ready=0
    for _ in $(seq 100); do
        if curl -sf "http://127.0.0.1:$port/metrics" >/dev/null; then ready=1; break; fi
        sleep 0.1
    done
    [ "$ready" = 1 ] || { echo "load.sh: the server did not start; see $out/server.log" >&2; kill -9 "$pid"; exit 1; }

    local before
    before=$(cpu_ticks "$pid")
    local report="$out/wrk-$repeat-$load-$workload-$mode.txt"
    wrk -t1 -c"$connections" -d"${duration}s" --latency "http://127.0.0.1:$port/$mode/$workload" > "$report"
    local after rss
    after=$(cpu_ticks "$pid")
    rss=$(awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
    # What every worker was handed, and what its producers freed themselves (the metrics).
    local metrics deferred inline
    metrics=$(curl -sf "http://127.0.0.1:$port/metrics" || true)
    deferred=$(awk '/^deferdrop_values_deferred_total\{/ { sum += $2 } END { printf "%d", sum }' <<< "$metrics")
    inline=$(awk '/^deferdrop_values_destroyed_inline_total\{/ { sum += $2 } END { printf "%d", sum }' <<< "$metrics")

    # SIGTERM: the server stops taking requests, then drains every worker.
    local start end
    start=$(date +%s.%N)
    kill -TERM "$pid"
    local waited=0
    while kill -0 "$pid" 2>/dev/null; do
        sleep 0.05
        waited=$((waited + 1))
        if [ "$waited" -gt 2400 ]; then
            echo "load.sh: the server did not drain within 120 s; killed" >&2
            kill -9 "$pid"
            break
        fi
    done
    wait "$pid" 2>/dev/null || true
    end=$(date +%s.%N)

    python3 - "$report" "$repeat" "$load" "$connections" "$workload" "$mode" "$rss" \
        "$(( after - before ))" "$ticks" "$(echo "$end - $start" | awk '{ print $1 - $3 }')" \
        "$deferred" "$inline" >> "$runs" <<'PY'
import re, sys
report, repeat, load, connections, workload, mode, rss, ticks, hz, drain, deferred, inline = sys.argv[1:]
text = open(report).read()
def ms(value):
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]
rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
total = int(re.search(r"(\d+) requests in", text).group(1))
percentiles = {p: ms(v) for p, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)$", text, re.M)}
maximum = ms(re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", text).group(1))
errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
errors += int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", text)) else 0
cpu = int(ticks) / int(hz) * 1000 / max(total, 1)
print("\t".join([repeat, load, connections, workload, mode, f"{rate:.0f}",
                 f"{percentiles['50']:.2f}", f"{percentiles['90']:.2f}", f"{percentiles['99']:.2f}",
                 f"{maximum:.2f}", rss, f"{cpu:.2f}", f"{float(drain):.2f}", str(errors), deferred, inline]))
PY
    tail -1 "$runs" >&2
}

echo "load.sh: $repeats × ($loads) × ($workloads) × ($modes), ${duration} s each, size $size, $allocator" >&2
for repeat in $(seq "$repeats"); do
    for load in $loads; do
        connections=$light
        [ "$load" = saturated ] && connections=$saturated
        for workload in $workloads; do
            for mode in $modes; do
                run_once "$repeat" "$load" "$connections" "$workload" "$mode"
            done
        done
    done
done

python3 Scripts/report.py "$runs" > "$out/table.md"
cat "$out/table.md"
echo "load.sh: runs in $runs, table in $out/table.md" >&2
