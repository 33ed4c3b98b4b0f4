#!/usr/bin/env python3
"""The table (and, with --plot, the figure) of Docs/Server.md, from load.sh's runs.tsv.

    python3 Scripts/report.py Results/<run>/runs.tsv                 # Markdown table
    python3 Scripts/report.py Results/<run>/runs.tsv --plot out.png  # and a plot (needs matplotlib)

Each cell gives the range over the repeats (one value when they agree); the
ratio columns compare each mode's median with dropping inline in the same
load and workload. "freed inline %" is the share of the values handed to
workers that their producers destroyed themselves (a time bound's valve).
"""

import csv
import statistics
import sys
from collections import defaultdict

MODES = ["inline", "shared", "pool", "strict", "dispatch", "timed", "stopped"]
LABELS = {"inline": "dropped inline", "shared": "`DropWorker.shared` (time-bounded, `.server`)",
          "pool": "`ShardedDropPool` (time-bounded, `.server`)", "dispatch": "`DispatchQueue.global()`",
          "strict": "the default, strict (`.unbounded`, `.batch`)", "timed": "`.timeBounded`",
          "stopped": "a stopped worker (always inline)"}
COLUMNS = [("requests_per_s", "req/s", "{:.0f}"), ("p50_ms", "p50 ms", "{:.2f}"),
           ("p90_ms", "p90 ms", "{:.2f}"), ("p99_ms", "p99 ms", "{:.2f}"),
           ("max_ms", "max ms", "{:.1f}"), ("peak_rss_mib", "peak RSS MiB", "{:.0f}"),
           ("cpu_ms_per_request", "CPU ms/req", "{:.2f}"), ("drain_s", "drain s", "{:.2f}"),
           ("inline_percent", "freed inline %", "{:.0f}")]


def load(path):
    groups = defaultdict(list)
    with open(path) as file:
        for row in csv.DictReader(file, delimiter="\t"):
            # Older runs have no metrics columns; the inline mode defers nothing.
            deferred = float(row.get("deferred") or 0)
            if "deferred" not in row:
                row["inline_percent"] = None
            else:
                row["inline_percent"] = 100 * float(row.get("destroyed_inline") or 0) / deferred if deferred else 0
            groups[(row["load"], row["connections"], row["workload"], row["mode"])].append(row)
    return groups


def cell(rows, key, form):
    if any(row[key] is None for row in rows):
        return "–"
    values = sorted(float(row[key]) for row in rows)
    low, high = form.format(values[0]), form.format(values[-1])
    return low if low == high else f"{low}–{high}"


def median(rows, key):
    return statistics.median(float(row[key]) for row in rows)


def table(groups):
    lines = ["| load | workload | mode | " + " | ".join(title for _, title, _ in COLUMNS)
             + " | req/s ÷ inline | p99 ÷ inline |",
             "|" + "---|" * (len(COLUMNS) + 5)]
    cases = sorted({key[:3] for key in groups}, key=lambda k: (k[0] != "light", k[2]))
    for load_name, connections, workload in cases:
        inline = groups.get((load_name, connections, workload, "inline"))
        for mode in MODES:
            rows = groups.get((load_name, connections, workload, mode))
            if not rows:
                continue
            ratios = ["–", "–"]
            if inline:
                ratios = [f"{median(rows, 'requests_per_s') / median(inline, 'requests_per_s'):.2f}×",
                          f"{median(rows, 'p99_ms') / median(inline, 'p99_ms'):.2f}×"]
            errors = sum(int(row["errors"]) for row in rows)
            note = f" ({errors} errors)" if errors else ""
            lines.append(f"| {load_name}, {connections} conn. | {workload} | {LABELS[mode]}{note} | "
                         + " | ".join(cell(rows, key, form) for key, _, form in COLUMNS)
                         + f" | {ratios[0]} | {ratios[1]} |")
    return "\n".join(lines)


def plot(groups, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cases = sorted({key[:3] for key in groups}, key=lambda k: (k[0] != "light", k[2]))
    figure, axes = plt.subplots(3, len(cases), figsize=(3.2 * len(cases), 8.5), squeeze=False)
    colors = {"inline": "#777777", "shared": "#1f77b4", "pool": "#2ca02c", "dispatch": "#d62728",
              "strict": "#9467bd", "timed": "#ff7f0e", "stopped": "#8c564b"}
    for column, (load_name, connections, workload) in enumerate(cases):
        present = [m for m in MODES if (load_name, connections, workload, m) in groups]
        rows_shown = [("requests_per_s", "requests/s"), ("p99_ms", "p99 latency (ms)"),
                      ("peak_rss_mib", "peak RSS (MiB, log)")]
        for row, (key, title) in enumerate(rows_shown):
            axis = axes[row][column]
            for index, mode in enumerate(present):
                rows = groups[(load_name, connections, workload, mode)]
                values = [float(r[key]) for r in rows]
                axis.bar(index, statistics.median(values), color=colors[mode])
                axis.plot([index] * len(values), values, "k.", markersize=4)
            axis.set_xticks(range(len(present)), present, rotation=30)
            axis.set_title(f"{workload}, {load_name} ({connections} conn.)" if row == 0 else "", fontsize=9)
            if column == 0:
                axis.set_ylabel(title)
            if key == "peak_rss_mib":
                axis.set_yscale("log")
                axis.set_ylim(bottom=10)
    figure.suptitle("Hummingbird example server under wrk (bars: median; dots: each run)", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main():
    if len(sys.argv) not in (2, 4) or (len(sys.argv) == 4 and sys.argv[2] != "--plot"):
        sys.exit(__doc__)
    groups = load(sys.argv[1])
    print(table(groups))
    if len(sys.argv) == 4:
        plot(groups, sys.argv[3])


if __name__ == "__main__":
    main()
