#!/usr/bin/env bash
# Build the GIN book on a fresh machine: install the pinned requirements and the package,
# fetch the offline MNIST stand-in, execute every chapter and render the HTML.
# The scale comes from GIN_SCALE (paper | cpu | smoke; default: paper with a GPU, cpu without),
# the digits data set from GIN_DATASET (auto | emnist | mnist).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -r requirements.txt
python3 -m pip install -q --no-deps -e .
bash scripts/fetch_mnist.sh
jupyter-book build . -W
echo "The book is at $(pwd)/_build/html/index.html"
