#!/usr/bin/env bash
# Compiles every C file of the platform layer (Sources/_DeferDropShims) for
# the platforms this machine cannot run: macOS on Apple silicon and Linux
# with musl, and Linux with glibc 2.36 as a control, each file with
# -std=gnu11 -Wall -Wextra -Werror, with zig cc from PyPI's `ziglang`, which
# ships those C libraries' headers. The POSIX-only branch is compiled for both
# Linux C libraries too. Then checks that the objects name the Swift
# runtime's symbols as each object format spells them.
#
# Needs python3 with venv (installed with apt-get if missing) and PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! python3 -m venv "$work/venv" >/dev/null 2>&1; then
    as_root=()
    if [ "$(id -u)" -ne 0 ]; then as_root=(sudo); fi
    "${as_root[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq python3 python3-venv
    python3 -m venv "$work/venv"
fi
"$work/venv/bin/pip" install -q ziglang
zig=("$work/venv/bin/python" -m ziglang)
echo "compile-layer: zig $("${zig[@]}" version)"

layer=Sources/_DeferDropShims
targets=(
    "aarch64-macos.15.0"
    "x86_64-linux-musl"
    "x86_64-linux-gnu.2.36"
    "x86_64-linux-musl -DDEFERDROP_POSIX_ONLY"
    "x86_64-linux-gnu.2.36 -DDEFERDROP_POSIX_ONLY"
)
compiled=0
for target in "${targets[@]}"; do
    read -r triple flags <<<"$target"
    out="$work/${triple}${flags:+-posix-only}"
    mkdir -p "$out"
    for file in "$layer"/*.c; do
        # shellcheck disable=SC2086 # flags is empty or one word
        "${zig[@]}" cc -target "$triple" $flags -std=gnu11 -Wall -Wextra -Werror \
            -I "$layer/include" -c "$file" -o "$out/$(basename "$file" .c).o"
        compiled=$((compiled + 1))
    done
    echo "compile-layer: $target: $(ls "$layer"/*.c | wc -l) files compiled"
done

# Mach-O puts an underscore before every symbol; ELF does not. The runtime's
# type descriptors are named by hand (runtime.c), so check both spellings.
python3 - "$work" <<'PYTHON'
import sys
work = sys.argv[1]
macho = open(f"{work}/aarch64-macos.15.0/runtime.o", "rb").read()
elf = open(f"{work}/x86_64-linux-gnu.2.36/runtime.o", "rb").read()
assert macho[:4] == b"\xcf\xfa\xed\xfe", "the macOS object is not Mach-O 64"
assert b"_$ss15ContiguousArrayVMn\0" in macho, "Mach-O: the descriptor lacks its underscore"
assert b"\0$sSaMn\0" in elf and b"\0_$sSaMn\0" not in elf, "ELF: the descriptor is misspelled"
print("compile-layer: Swift runtime symbols spelled for Mach-O and ELF")
PYTHON
echo "compile-layer: $compiled compilations, no warnings"
