"""Which phone photos of the *training* pages the reading refuses, and why — the development set for
the sheet finder (the test split's photos are for the report only: `training.eval_digitize`).

    python -m training.studies.photo_refusals [--n 120] [--offset 0]

Photo i of the train split is rendered with seed PHOTO_SEED0 + i (`training/photo_render.py`) and read by
`inference.reading.read_ecg`; prints each refusal (page, reason, detail, how the sheet was found) and the
count per reason. Measured 2026-12-03: the first 120 refused 5 (2 `unoriented`) after `sheet._register`,
9 (6 `unoriented`) before it; all 292: 11 (5 `unoriented`).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from training.data import DEFAULT_DATA, REPO_ROOT

PHOTO_SEED0 = 5000


def main(argv: list[str] | None = None) -> int:
    from inference.image_io import load_image
    from inference.reading import read_ecg
    from training.photo_render import render_photo

    ap = argparse.ArgumentParser(prog="python -m training.studies.photo_refusals", description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=120)
    ap.add_argument("--offset", type=int, default=0)
    a = ap.parse_args(argv)
    items = json.loads((REPO_ROOT / "training" / "split.json").read_text())["train"]
    reasons: Counter = Counter()
    for i in range(a.offset, min(len(items), a.offset + a.n)):
        image = load_image((Path(DEFAULT_DATA) / items[i]["name"]).read_bytes())
        reading = read_ecg(render_photo(image, PHOTO_SEED0 + i).jpeg)
        if not reading.ok:
            reasons[reading.reason] += 1
            sheet = reading.sheet
            how = f"{sheet.method} {sheet.rotation} {sheet.score:.2f}" if sheet is not None else "-"
            print(f"{i} {items[i]['name']}: {reading.reason} ({reading.detail}) [{how}]", flush=True)
    total = min(len(items), a.offset + a.n) - a.offset
    print(f"refused {sum(reasons.values())} of {total}: {dict(reasons)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
