#!/usr/bin/env python3
"""Tables and plots for Docs/Benchmarks.md, from one stored benchmark run.

Rerun everything from the Benchmarks folder:

    swift package --allow-writing-to-package-directory benchmark baseline update results
    swift package --allow-writing-to-directory Results benchmark baseline read results \\
        --format histogramPercentiles --path Results
    python3 -m pip install matplotlib        # once
    python3 Scripts/report.py Results ../Docs

    # And the streams on glibc's allocator, for the producer-vs-inline plot:
    DEFERDROP_BENCHMARK_ALLOCATOR=glibc swift package \
        --allow-writing-to-package-directory benchmark baseline update glibc --filter "Stream.*"
    DEFERDROP_BENCHMARK_ALLOCATOR=glibc swift package --allow-writing-to-directory Glibc \
        benchmark baseline read glibc --format histogramPercentiles --path Glibc
    python3 Scripts/report.py Results ../Docs Glibc

It prints every workload's full tables (Docs/Benchmarks.md keeps the columns
that carry each conclusion) and redraws the plots in Docs/Benchmarks/.
"""

import math
import pathlib
import re
import sys

PREFIX = ".DeferDropBenchmarks."  # after the baseline's name
SUFFIX = ".histogram.percentiles.tsv"
METRICS = ["wallClock", "peakMemoryResident", "mallocCountTotal", "destroyed_per_s_(K)",
           "until_destroyed_(µs)", "reclaimed_(KiB)", "producer_ns_per_value",
           "rounds_per_s", "round_p99_(µs)", "freed_inline_(%)"]
MODES = ["foreground", "DropWorker.shared", "ShardedDropPool",
         "DispatchQueue.global", "Task.detached", "Thread per drop",
         # Workload 7: a private DropWorker per scheduling class.
         "normal", "batch", "idle",
         # Workload 8: the time-bounded policy, for a saturated server.
         "DropWorker, .server", "ShardedDropPool, .server"]


def load(folder):
    """{workload: {mode: {metric: {percentile: value}}}}"""
    results = {}
    for path in pathlib.Path(folder).glob("*" + PREFIX + "*" + SUFFIX):
        stem = path.name[path.name.index(PREFIX) + len(PREFIX):-len(SUFFIX)]
        metric = next(m for m in METRICS if stem.endswith("." + m))
        name = stem[: -len(metric) - 1].replace("_", " ")
        workload, mode = name.split(" · ")
        percentiles = {}
        for line in path.read_text().splitlines()[1:]:
            key, value = line.split("\t")
            percentiles[float(key)] = float(value)
        results.setdefault(workload, {}).setdefault(mode, {})[metric] = percentiles
    return results


def fmt(value, unit=""):
    if value is None:
        return "–"
    if value >= 100:
        text = f"{value:,.0f}"
    elif value >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return text + unit


def ratio(part, whole):
    if part is None or whole is None or part == 0:
        return "–"
    r = whole / part
    return f"1/{r:,.0f}" if r >= 1 else f"{1 / r:.1f}×"


def get(modes, mode, metric, p):
    return modes.get(mode, {}).get(metric, {}).get(p)


def table(workload, modes, columns, cells):
    """A markdown table: one row per mode present, in MODES order, from `cells(mode)`."""
    rows = [f"#### {workload}", "",
            "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for mode in MODES:
        if mode in modes:
            rows.append("| " + " | ".join(cells(mode)) + " |")
    return rows


def large_table(workload, modes):
    base = get(modes, "foreground", "wallClock", 50)

    def cells(mode):
        p50 = get(modes, mode, "wallClock", 50)
        reclaimed = get(modes, mode, "reclaimed_(KiB)", 50)
        return [
            mode, fmt(p50, " µs"), fmt(get(modes, mode, "wallClock", 99), " µs"),
            "1" if mode == "foreground" else ratio(p50, base),
            fmt(get(modes, mode, "until_destroyed_(µs)", 50), " µs"),
            "–" if reclaimed is None else f"{reclaimed / 1024:.1f} MiB",
            fmt(get(modes, mode, "peakMemoryResident", 50), " MB"),
            fmt(get(modes, mode, "mallocCountTotal", 50)),
        ]
    return table(workload, modes, [
        "mode", "on the producer, p50", "p99", "vs foreground (p50)", "until destroyed, p50",
        "reclaimed", "peak RSS, p50", "mallocs in the hand-off"], cells)


def stream_table(workload, modes):
    base = get(modes, "foreground", "producer_ns_per_value", 50)

    def cells(mode):
        p50 = get(modes, mode, "producer_ns_per_value", 50)
        return [
            "foreground (inline release)" if mode == "foreground" else mode,
            fmt(p50), fmt(get(modes, mode, "producer_ns_per_value", 99)),
            "1" if mode == "foreground" else f"{p50 / base:.2f}×",
            fmt(get(modes, mode, "until_destroyed_(µs)", 50) / 1000, " ms"),
            fmt(get(modes, mode, "destroyed_per_s_(K)", 50) / 1000, " M"),
            fmt(get(modes, mode, "peakMemoryResident", 50), " MB"),
        ]
    return table(workload, modes, [
        "mode", "producer ns per value, p50", "p99", "vs inline release (p50)",
        "until all destroyed, p50", "destroyed per s, p50", "peak RSS, p50"], cells)


def latency_table(workload, modes, unit):
    def cells(mode):
        return [mode] + [fmt(get(modes, mode, "wallClock", p), unit) for p in (50, 90, 99, 100)]
    return table(workload, modes, ["mode", "p50", "p90", "p99", "max"], cells)


def drain_table(workload, modes):
    single = get(modes, "DropWorker.shared", "wallClock", 50)

    def cells(mode):
        p50 = get(modes, mode, "wallClock", 50)
        return [
            "foreground (inline release)" if mode == "foreground" else mode,
            fmt(p50 / 1000, " ms"), fmt(get(modes, mode, "wallClock", 99) / 1000, " ms"),
            f"{p50 / single:.2f}×",
            fmt(get(modes, mode, "destroyed_per_s_(K)", 50) / 1000, " M"),
            fmt(get(modes, mode, "peakMemoryResident", 50), " MB"),
        ]
    return table(workload, modes, [
        "mode", "until all destroyed, p50", "p99", "vs single worker (p50)",
        "destroyed per s, p50", "peak RSS, p50"], cells)


STREAM = re.compile(r"Stream 1M objects, (\d+) producers?")
DEFERRING = ["DropWorker.shared", "ShardedDropPool"]


def producer_ratios(results):
    """{mode: [(producers, producer ns p50 / inline release ns p50)]} for the streams."""
    ratios = {}
    for workload, modes in results.items():
        match = STREAM.fullmatch(workload)
        inline = get(modes, "foreground", "producer_ns_per_value", 50)
        if not match or not inline:
            continue
        for mode in DEFERRING:
            cost = get(modes, mode, "producer_ns_per_value", 50)
            if cost is not None:
                ratios.setdefault(mode, []).append((int(match.group(1)), cost / inline))
    return {mode: sorted(points) for mode, points in ratios.items()}


def ratio_table(by_allocator):
    """Producer cost against an inline release, per mode, allocator and producer count."""
    counts = sorted({n for ratios in by_allocator.values() for points in ratios.values() for n, _ in points})
    rows = ["#### Producer cost against an inline release (p50 / p50)", "",
            "| mode | allocator | " + " | ".join(f"{n} producer{'s' if n > 1 else ''}" for n in counts) + " |",
            "|---|---|" + "---|" * len(counts)]
    for mode in DEFERRING:
        for allocator, ratios in by_allocator.items():
            points = dict(ratios.get(mode, []))
            rows.append(f"| {mode} | {allocator} | "
                        + " | ".join(f"{points[n]:.2f}×" if n in points else "–" for n in counts) + " |")
    return rows + [""]


def saturated_table(workload, modes):
    base = get(modes, "foreground", "rounds_per_s", 50)

    def cells(mode):
        rounds = get(modes, mode, "rounds_per_s", 50)
        inline = get(modes, mode, "freed_inline_(%)", 50)
        return [
            mode, fmt(rounds), "1" if mode == "foreground" else f"{rounds / base:.2f}×",
            fmt(get(modes, mode, "round_p99_(µs)", 50) / 1000, " ms"),
            fmt(get(modes, mode, "peakMemoryResident", 50), " MB"),
            "–" if inline is None or mode == "foreground" else f"{inline:.0f}%",
        ]
    return table(workload, modes, [
        "mode", "rounds per s, p50", "vs foreground", "round p99, p50", "peak RSS, p50",
        "freed inline, p50"], cells)


def tables(results, by_allocator, glibc):
    out = ratio_table(by_allocator)
    order = sorted(results, key=lambda w: (
        0 if w.startswith("Crate") else 1 if w.startswith("Article") else
        2 if w.startswith("Stream") else 3 if w.startswith("Sporadic") else
        4 if w.startswith("Hand-off") else 6 if w.startswith("Priority") else
        7 if w.startswith("Saturated") else 5, w))
    for workload in order:
        modes = results[workload]
        if workload.startswith(("Crate", "Article")):
            out += large_table(workload, modes)
        elif workload.startswith("Stream"):
            out += stream_table(workload, modes)
        elif workload.startswith("Sporadic"):
            out += latency_table(workload, modes, " ns")
        elif workload.startswith(("Hand-off", "Priority")):
            out += latency_table(workload, modes, " ns")
        elif workload.startswith("Saturated"):
            out += saturated_table(workload, modes)
        else:
            out += drain_table(workload, modes)
        out.append("")
    for workload in sorted(w for w in glibc if STREAM.fullmatch(w)):
        out += stream_table(workload + ", glibc", glibc[workload])
        out.append("")
    return "\n".join(out)


def ratio_plot(by_allocator, colors, path, plt):
    """Producer cost over an inline release against the number of producers."""
    fig, axis = plt.subplots(figsize=(6.5, 4.2))
    styles = {"jemalloc": "-", "glibc": "--"}
    counts = set()
    for allocator, ratios in by_allocator.items():
        for mode, points in ratios.items():
            counts.update(n for n, _ in points)
            axis.plot([n for n, _ in points], [r for _, r in points], styles.get(allocator, ":"),
                      marker="o", color=colors[mode], label=f"{mode}, {allocator}")
    axis.axhline(1.0, color="#444444", linewidth=1)
    axis.text(max(counts), 1.03, "inline release", fontsize=8, color="#444444", ha="right")
    axis.set_ylim(bottom=0)
    axis.set_xscale("log", base=2)
    axis.set_xticks(sorted(counts))
    axis.set_xticklabels([str(n) for n in sorted(counts)])
    axis.set_xlabel("producers handing over at once")
    axis.set_ylabel("producer time per value / inline release (p50)")
    axis.set_title("Producer cost against an inline release, 1M small objects (lower is better)", fontsize=9)
    axis.legend(fontsize=8)
    axis.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plots(results, by_allocator, folder):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    colors = dict(zip(MODES, ["#444444", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#d62728",
                              "#8c564b", "#17becf", "#bcbd22", "#e377c2", "#7f7f7f"]))

    # Producer cost: per-value ns for the streams, µs for the large drops.
    workloads = [w for w in results if w.startswith(("Crate", "Article", "Stream"))]
    workloads.sort(key=lambda w: (not w.startswith("Crate"), not w.startswith("Article"), w))
    fig, axes = plt.subplots(1, len(workloads), figsize=(3.2 * len(workloads), 4.2), sharey=False)
    for axis, workload in zip(axes, workloads):
        modes = [m for m in MODES if m in results[workload]]
        stream = workload.startswith("Stream")
        metric = "producer_ns_per_value" if stream else "wallClock"
        values = [get(results[workload], m, metric, 50) for m in modes]
        axis.bar(range(len(modes)), values, color=[colors[m] for m in modes])
        axis.set_yscale("log")
        axis.set_xticks(range(len(modes)))
        axis.set_xticklabels(modes, rotation=60, ha="right", fontsize=7)
        axis.set_title(workload.replace(", ", ",\n", 1), fontsize=8)
        axis.set_ylabel("ns per value (p50)" if stream else "µs on the producer (p50)", fontsize=8)
    fig.suptitle("Time the producer spends per drop (log scale; lower is better)")
    fig.tight_layout()
    fig.savefig(folder / "producer-cost.png", dpi=110)
    plt.close(fig)

    ratio_plot(by_allocator, colors, folder / "producer-vs-inline.png", plt)

    # Hand-off latency distributions: while the worker is busy, and per
    # scheduling class when each hand-off wakes it with the other core busy.
    latency_plot(results, next(w for w in results if w.startswith("Hand-off")),
                 colors, folder / "handoff-latency.png", plt)
    busy = [w for w in results if w.startswith("Priority: wake-up") and "busy" in w]
    if busy:
        latency_plot(results, busy[0], colors, folder / "priority-wakeup.png", plt)


def latency_plot(results, workload, colors, path, plt):
    """One line per mode: the wall clock at each percentile, log-scaled both ways."""
    fig, axis = plt.subplots(figsize=(7.5, 4.5))
    for mode in MODES:
        series = results[workload].get(mode, {}).get("wallClock")
        if not series:
            continue
        ps = sorted(p for p in series if p < 100)
        axis.plot([-math.log10(1 - p / 100) for p in ps], [series[p] for p in ps],
                  label=mode, color=colors[mode])
    ticks = [0, 50, 90, 99]
    axis.set_xticks([-math.log10(1 - p / 100) for p in ticks])
    axis.set_xticklabels([f"p{p}" for p in ticks])
    axis.set_yscale("log")
    axis.set_ylabel("hand-off time (ns, log)")
    axis.set_title(workload)
    axis.legend(fontsize=8)
    axis.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    source, docs = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    results = load(source)
    if not results:
        sys.exit(f"no *{PREFIX}*{SUFFIX} files in {source}")
    glibc = load(pathlib.Path(sys.argv[3])) if len(sys.argv) > 3 else {}
    by_allocator = {"jemalloc": producer_ratios(results)}
    if glibc:
        by_allocator["glibc"] = producer_ratios(glibc)
    print(tables(results, by_allocator, glibc))
    plots(results, by_allocator, docs / "Benchmarks")
    print(f"updated {docs / 'Benchmarks'}/*.png from {len(results)} workloads", file=sys.stderr)


if __name__ == "__main__":
    main()
