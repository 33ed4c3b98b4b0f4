#!/usr/bin/env bash
# Proves the README's dependency line: a new package, made from the two lines
# after the README's "dependency-line" marker with only the URL replaced (by a
# clone of this repository), resolves, builds and runs. The version the line
# asks for must be one CHANGELOG.md records; the clone is tagged with it at
# this commit, so that what is checked is this code as that release.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

block=$(sed -n '/<!-- dependency-line/,/^```$/p' "$root/README.md" | sed -n '/^```swift$/,/^```$/p' | sed '1d;$d')
package_line=$(echo "$block" | grep '\.package(url:')
product_line=$(echo "$block" | grep '\.product(')
[ -n "$package_line" ] && [ -n "$product_line" ] \
    || { echo "readme-dependency: no .package and .product lines after the README's marker" >&2; exit 1; }
version=$(echo "$package_line" | sed -n 's/.*from: "\([^"]*\)".*/\1/p')
[ -n "$version" ] || { echo "readme-dependency: the README's line names no version: $package_line" >&2; exit 1; }
grep -q "^## $version\b" "$root/CHANGELOG.md" \
    || { echo "readme-dependency: the README asks for $version, which CHANGELOG.md does not record" >&2; exit 1; }

git clone -q "$root" "$work/DeferDrop"
if git -C "$root" rev-parse -q --verify "refs/tags/$version" >/dev/null \
    && [ "$(git -C "$root" rev-parse "$version^{commit}")" != "$(git -C "$root" rev-parse HEAD)" ]; then
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
[[ "$output" == consumer:* ]] || { echo "readme-dependency: the consumer printed '$output'" >&2; exit 1; }
echo "readme-dependency: the README's dependency line resolves $version, builds and runs"
