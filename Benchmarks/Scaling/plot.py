#!/usr/bin/env python3
"""Plots the scaling benchmark's CSV (scaling --csv FILE) as an SVG.

    python3 Benchmarks/Scaling/plot.py RESULTS.csv [MORE.csv ...] > Docs/scaling.svg

One panel per allocator in the files: the producer's time per small object
(workload `objects`) as a ratio to an inline release in the same repeat,
against the number of producers, one line per mode, medians over repeats,
both axes logarithmic. Needs nothing but Python 3.
"""
import csv
import math
import sys
from collections import defaultdict
from statistics import median

MODES = ["worker", "worker-server", "worker-ordered", "pool", "pool-server",
         "worker-block", "worker-inline", "pool-block", "pool-inline"]
COLOURS = {"worker": "#1f77b4", "worker-server": "#6baed6", "worker-ordered": "#9467bd",
           "pool": "#d62728", "pool-server": "#ff9896", "worker-block": "#2ca02c",
           "worker-inline": "#98df8a", "pool-block": "#8c564b", "pool-inline": "#c49c94"}
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 460, 320, 60, 130, 40, 50


def ratios(rows):
    """{allocator: {mode: {producers: median ratio}}} for the objects workload."""
    inline = {}
    for row in rows:
        if row["workload"] == "objects" and row["mode"] == "inline":
            inline[(row["allocator"], row["producers"], row["repeat"])] = float(row["producer_ns"])
    found = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for row in rows:
        key = (row["allocator"], row["producers"], row["repeat"])
        if row["workload"] != "objects" or row["mode"] == "inline" or key not in inline:
            continue
        found[row["allocator"]][row["mode"]][int(row["producers"])].append(float(row["producer_ns"]) / inline[key])
    return {a: {m: {p: median(v) for p, v in ps.items()} for m, ps in ms.items()} for a, ms in found.items()}


def panel(x0, allocator, lines, producers, low, high):
    out = []
    def sx(p):
        span = math.log2(max(producers)) or 1
        return x0 + LEFT + (math.log2(p) / span) * (WIDTH - LEFT - RIGHT)
    def sy(r):
        return TOP + (math.log10(high) - math.log10(r)) / (math.log10(high) - math.log10(low)) * (HEIGHT - TOP - BOTTOM)
    out.append(f'<text x="{x0 + WIDTH / 2 - 40}" y="20" font-weight="bold">{allocator}</text>')
    for tick in [0.25, 0.5, 1, 2, 4, 8, 16, 32]:
        if low <= tick <= high:
            y = sy(tick)
            stroke = "#000" if tick == 1 else "#ddd"
            out.append(f'<line x1="{x0 + LEFT}" x2="{x0 + WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{stroke}"/>')
            out.append(f'<text x="{x0 + LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{tick:g}×</text>')
    for p in producers:
        out.append(f'<text x="{sx(p):.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle">{p}</text>')
    out.append(f'<text x="{x0 + (LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 12}" text-anchor="middle">producer threads</text>')
    for index, mode in enumerate(m for m in MODES if m in lines):
        points = sorted(lines[mode].items())
        path = " ".join(f"{sx(p):.1f},{sy(r):.1f}" for p, r in points)
        colour = COLOURS[mode]
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for p, r in points:
            out.append(f'<circle cx="{sx(p):.1f}" cy="{sy(r):.1f}" r="3" fill="{colour}"/>')
        y = TOP + 14 * index
        out.append(f'<line x1="{x0 + WIDTH - RIGHT + 10}" x2="{x0 + WIDTH - RIGHT + 26}" y1="{y}" y2="{y}" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{x0 + WIDTH - RIGHT + 30}" y="{y + 4}">{mode}</text>')
    return out


def main():
    rows = []
    for path in sys.argv[1:]:
        with open(path) as file:
            rows.extend(csv.DictReader(file))
    found = ratios(rows)
    if not found:
        sys.exit("plot.py: no `objects` rows with an inline baseline in the files given")
    values = [r for ms in found.values() for ps in ms.values() for r in ps.values()]
    low = 2 ** math.floor(math.log2(min(values + [1])))
    high = 2 ** math.ceil(math.log2(max(values + [1])))
    producers = sorted({int(row["producers"]) for row in rows if row["workload"] == "objects"})
    parts = []
    for index, allocator in enumerate(sorted(found)):
        parts += panel(index * WIDTH, allocator, found[allocator], producers, low, high)
    width = WIDTH * len(found)
    print(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{HEIGHT}" '
          f'font-family="sans-serif" font-size="11">')
    print(f'<rect width="{width}" height="{HEIGHT}" fill="white"/>')
    print(f'<text x="8" y="{HEIGHT / 2}" transform="rotate(-90 8 {HEIGHT / 2})" text-anchor="middle" dy="10">'
          'producer time per object ÷ inline release</text>')
    print("\n".join(parts))
    print("</svg>")


if __name__ == "__main__":
    main()
