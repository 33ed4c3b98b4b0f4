#!/usr/bin/env bash
# Proves the README's dependency line: a new package, made from the two lines
# after the README's "dependency-line" marker with only the URL replaced (by a
# clone of this repository), resolves, builds and runs. The version the line
# asks for must be one CHANGELOG.md records; the clone is tagged with it at
# this commit (a landing may not carry tags), so that what is checked is the
# committed code as that release. The README's URL must be a git URL that
# names the package, DeferDrop, as its last path component: SwiftPM derives
# the package's identity, which the .product line names, from it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "readme-dependency: $*" >&2; exit 1; }
block=$(sed -n '/<!-- dependency-line/,/^```$/p' "$root/README.md" | sed -n '/^```swift$/,/^```$/p' | sed '1d;$d')
package_line=$(echo "$block" | grep '\.package(url:' || true)
product_line=$(echo "$block" | grep '\.product(' || true)
[ -n "$package_line" ] && [ -n "$product_line" ] || fail "no .package and .product lines after the README's marker"
readme_url=$(echo "$package_line" | sed -n 's/.*url: "\([^"]*\)".*/\1/p')
[[ "$readme_url" =~ ^https://[^/]+/[^/]+/DeferDrop(\.git)?$ ]] \
    || fail "the README's URL is not an https git URL ending in DeferDrop: '$readme_url'"
version=$(echo "$package_line" | sed -n 's/.*from: "\([0-9]*\.[0-9]*\.[0-9]*\)".*/\1/p')
[ -n "$version" ] || fail "the README's line names no version: $package_line"
grep -qxF "## $version" "$root/CHANGELOG.md" || fail "the README asks for $version, which CHANGELOG.md does not record"

# The checkout may belong to another user than CI's (git's safe.directory).
git -c safe.directory='*' clone -q "$root" "$work/DeferDrop"
if ! git -C "$work/DeferDrop" rev-parse -q --verify "refs/tags/$version" >/dev/null; then
    echo "readme-dependency: no tag $version here; checking this commit as $version"
elif [ "$(git -C "$work/DeferDrop" rev-parse "$version^{commit}")" != "$(git -C "$work/DeferDrop" rev-parse HEAD)" ]; then
    echo "readme-dependency: tag $version is an earlier commit; checking this commit as $version"
fi
git -C "$work/DeferDrop" tag -f "$version" HEAD >/dev/null

consumer="$work/Consumer"
mkdir -p "$consumer/Sources/Consumer"
url="file://$work/DeferDrop"
package_line=$(echo "$package_line" | sed "s#url: \"[^\"]*\"#url: \"$url\"#")
product_line=$(echo "$product_line" | sed 's#//.*##')
cat > "$consumer/Package.swift" <<PACKAGE
// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Consumer",
    dependencies: [
        $package_line
    ],
    targets: [
        .executableTarget(
            name: "Consumer",
            dependencies: [
                $product_line
            ]
        ),
    ]
)
PACKAGE
cat > "$consumer/Sources/Consumer/main.swift" <<'SWIFT'
// What the README shows, in a package of a user's, in top-level code.
import DeferDrop

final class Posting {
    let id: Int
    init(id: Int) { self.id = id }
}

func buildIndex() -> [String: [Posting]] {
    var index: [String: [Posting]] = [:]
    for id in 0..<10_000 { index["term-\(id % 500)", default: []].append(Posting(id: id)) }
    return index
}

@inline(never)
func handOver() {
    var index = DeferDrop(buildIndex())
    index.value["swift", default: []].append(Posting(id: -1))
    index.replace(with: buildIndex())
    let table = (0..<100_000).map { [$0] }
    deferDrop(consume table)
    let worker = DropWorker(name: "consumer")
    let graph = buildIndex()
    deferDrop(consume graph, on: worker)
    worker.flush()
    precondition(worker.statistics.destroyed == 1, "consumer: \(worker.statistics)")
}

handOver()
await Task { await DropWorker.shared.flush() }.value
let statistics = DropWorker.shared.statistics
precondition(statistics.deferred == 3 && statistics.destroyed == 3, "consumer: \(statistics)")
print("consumer: \(statistics)")
SWIFT

echo "readme-dependency: $package_line"
swift build --package-path "$consumer" -c release
output=$("$(swift build --package-path "$consumer" -c release --show-bin-path)/Consumer")
echo "$output"
[[ "$output" == consumer:* ]] || fail "the consumer printed '$output'"
echo "readme-dependency: the README's dependency line resolves $version, builds and runs"
