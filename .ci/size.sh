#!/usr/bin/env bash
# Reports the sizes issue 38 sets targets for, counted one way everywhere:
# - code lines of Sources/DeferDrop: Swift lines that are neither blank nor a
#   comment (find ... | xargs grep -vhE '^\s*$|^\s*//' | wc -l), and comment
#   lines (lines that start with //);
# - words of the README and of every .md under Docs/ and Sources/ (wc -w).
# Prints each against its target; fails only with --enforce.
set -euo pipefail
cd "$(dirname "$0")/.."

swift_files() { find Sources/DeferDrop -name '*.swift' -print0; }
code=$(swift_files | xargs -0 grep -vhE '^\s*$|^\s*//' | wc -l)
comments=$(swift_files | xargs -0 grep -hE '^\s*//' | wc -l)
words=$(find README.md Docs Sources -name '*.md' -print0 | xargs -0 cat | wc -w)

failed=0
report() {  # what, value, most
    local verdict=within
    if [ "$2" -gt "$3" ]; then verdict=over; failed=1; fi
    printf 'size: %-45s %6d (at most %d: %s)\n' "$1" "$2" "$3" "$verdict"
}
report "Sources/DeferDrop code lines" "$code" 2000
report "Sources/DeferDrop comment lines" "$comments" $((code / 2))
report "words in README.md, Docs/ and Sources/ .md" "$words" 12000
if [ "${1:-}" = --enforce ] && [ "$failed" -ne 0 ]; then exit 1; fi
