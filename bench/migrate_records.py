"""One-off migration of the artificial sweep records made before generator version 2 (run once, 2026-11-25).

    python bench/migrate_records.py

Version 2 of ``gin_core.artificial.make_artificial_data`` gives exactly the same data as version 1
for samples of 110,000 points (100,000 training + 10,000 held-out; checked by
``tests/test_artificial.py::test_generator_v2_keeps_paper_size_data``), which is the size of every
record migrated here; only the 10,000-point sweep (``artificial_little_data.json``) changed, and it
was rerun instead. The migration adds the settings that newer code records (``n_latent``,
``variances``, ``init``, ``generator``) and the book's single knee rule: ``n_informative`` is now the
count of the book's rule (``DEFAULT_KNEE``, recomputed exactly from the stored spectrum) and the
old largest-gap count moves to ``n_informative_gap``. ``affine_sparse`` was computed by the old
check, which looked only at the block A1 of eq. (4); it is kept as ``affine_sparse_A1_only`` (the
new check needs the codes, which records do not store). Nothing else is touched.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from gin_core.artificial import GENERATOR_VERSION
from gin_core.book.atlas import DEFAULT_KNEE
from gin_core.book.records import results_path
from gin_core.checkpoints import save_json
from gin_core.metrics import count_informative

NAMES = ["exp1_paper", "exp1_drop10", "exp1_paper_code19e17ac", "exp2_paper", "exp2_drop10", "exp2_short"]


def migrate(record: dict) -> dict:
    if "generator" in record:
        return record
    if record["n_points"] + record["n_val"] != 110_000:
        raise ValueError(f"only 110,000-point records keep their data under generator 2, got {record['n_points']}")
    spectrum = np.array(record["spectrum"])
    gap = count_informative(spectrum, "max_gap")
    if gap != record["n_informative"]:
        raise ValueError(f"stored largest-gap count {record['n_informative']} disagrees with its spectrum ({gap})")
    out = dict(record)
    out.update(n_latent=2, variances="random", init="identity", generator=GENERATOR_VERSION)
    out["n_informative_gap"] = gap
    out["n_informative"] = count_informative(spectrum, DEFAULT_KNEE[0], **DEFAULT_KNEE[1])
    if "affine_sparse" in out:
        out["affine_sparse_A1_only"] = out.pop("affine_sparse")
    out["migrated"] = "generator 1 record; same data under generator 2; knee fields by bench/migrate_records.py"
    return out


def main():
    for name in NAMES:
        path = results_path(f"artificial_{name}.json")
        records = json.loads(path.read_text())
        save_json(path, [migrate(r) for r in records])
        print(f"{path}: {len(records)} records migrated", file=sys.stderr)


if __name__ == "__main__":
    main()
