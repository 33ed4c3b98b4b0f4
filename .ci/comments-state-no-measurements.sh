#!/usr/bin/env bash
# Comments under Sources/ state invariants and reasons, never measurements:
# figures belong in commit messages and the benchmark docs, where their
# command is. Fails on a comment line with a time in ns or µs, a ratio
# (2×), a range of figures (3–5), a "measured" note or a cost in
# (nano|micro|milli)seconds. The DocC catalogs
# (*.docc) are user documentation and may cite figures.
set -euo pipefail
cd "$(dirname "$0")/.."
pattern='[0-9] ?(ns|µs)\b|[0-9]×|[0-9]–[0-9]|[Mm]easured( on|:| with| here)|\([Mm]easured'
pattern+='|costs?( it| a few| about| tens of)? (nano|micro|milli)seconds'
found=$(grep -rnE --include='*.swift' --include='*.c' --include='*.h' '^\s*(//|\*)' Sources \
    | grep -E "$pattern" || true)
if [ -n "$found" ]; then
    echo "comments under Sources/ that state measurements (move them to the benchmark docs):" >&2
    echo "$found" >&2
    exit 1
fi
echo "comments: no measurements under Sources/"
