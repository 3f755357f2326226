#!/usr/bin/env bash
# Vendor MathJax 3 (Apache-2.0) into book/_static/mathjax so that the book's math renders offline.
# The result is committed; rerun only to update MathJax. Needs npm (the npm registry).
set -euo pipefail
version="${1:-3.2.2}"
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/book/_static/mathjax"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "mathjax@$version" >/dev/null && tar xzf "mathjax-$version.tgz")
grep -q '"license": "Apache-2.0"' "$tmp/package/package.json" || { echo "unexpected MathJax licence" >&2; exit 1; }
rm -rf "$dest"
mkdir -p "$dest/output/chtml/fonts" "$dest/input/tex"
cp "$tmp/package/es5/tex-mml-chtml.js" "$dest/"                              # TeX + MathML input, CHTML output
cp -r "$tmp/package/es5/output/chtml/fonts/woff-v2" "$dest/output/chtml/fonts/"  # the fonts CHTML loads
cp -r "$tmp/package/es5/input/tex/extensions" "$dest/input/tex/"                # TeX packages loaded on demand
cp "$tmp/package/LICENSE" "$dest/LICENSE"
echo "MathJax $version (npm package mathjax, Apache-2.0): es5/tex-mml-chtml.js with its CHTML fonts and TeX extensions." > "$dest/VERSION"
echo "MathJax $version copied to $dest ($(du -sh "$dest" | cut -f1))"
