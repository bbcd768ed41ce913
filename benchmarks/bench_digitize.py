"""Reading benchmark (not a test): sheet + grid + digitize + measure per page, p50 / p95 per step.

    python benchmarks/bench_digitize.py [--n 20] [--json reports/bench_digitize.json]

Pages are rendered with known signals (`training.page_render`) and read as scans (JPEG) and as phone
photos (`training.photo_render`, 1280 px messenger JPEGs); rendering is not timed. Each step is timed
separately on the same pages, then `read_ecg` (what `ecg-bot digitize` and the bot run, the ECG check
included) as a whole, then `classify`: the diagnosis of the page read (`inference.analysis.diagnosis_probabilities`:
the clinical features, the measurement model, the 1-D ResNet-50, the combiner). Targets on this 2-core CPU:
the whole reading <= 500 ms p95, the diagnosis after it <= 300 ms p95. Timed as the bot runs it: after
the warm-up, `gc.freeze()` (before it, a full garbage collection walking TensorFlow's objects, 0.3-0.45 s,
fell into whichever step was running: the slowest of 15 pages).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _time(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return out, (time.perf_counter() - t) * 1000.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--json", metavar="OUT")
    a = ap.parse_args(argv)

    from inference.digitize import digitize
    from inference.grid import find_grid, ink_map
    from inference.image_io import load_image
    from inference.measure import measure
    from inference.reading import read_ecg
    from inference.sheet import find_sheet
    from training.page_render import render_random_page
    from training.photo_render import render_photo

    inputs = {"scan": [], "photo": []}
    for seed in range(a.n):
        page = render_random_page(seed)
        inputs["scan"].append(page.jpeg_bytes(80))
        inputs["photo"].append(render_photo(page.image, seed).jpeg)
    from inference.analysis import diagnosis_probabilities

    diagnosis_probabilities(read_ecg(inputs["scan"][0]))  # warm imports, caches and the models
    # as the bot and the worker do once the models are loaded (bot/app.py): TensorFlow's millions of
    # objects out of the garbage collector's generations, else a full collection lands in a timed step
    gc.freeze()

    report: dict = {"n": a.n}
    for kind, files in inputs.items():
        steps: dict[str, list[float]] = {"decode": [], "sheet": [], "grid": [], "digitize": [], "measure": [], "read_ecg": [], "classify": []}
        for data in files:
            image, ms = _time(load_image, data)
            steps["decode"].append(ms)
            sheet, ms = _time(find_sheet, image)
            steps["sheet"].append(ms)
            t = time.perf_counter()
            ink = ink_map(sheet.page)
            grid = find_grid(sheet.page, ink)
            steps["grid"].append((time.perf_counter() - t) * 1000.0)
            d, ms = _time(digitize, sheet.page, grid, ink)
            steps["digitize"].append(ms)
            _, ms = _time(measure, d)
            steps["measure"].append(ms)
            reading, ms = _time(read_ecg, data)
            steps["read_ecg"].append(ms)
            if reading.ok:
                _, ms = _time(diagnosis_probabilities, reading)
                steps["classify"].append(ms)
        report[kind] = {k: {"p50_ms": float(np.percentile(v, 50)), "p95_ms": float(np.percentile(v, 95))}
                        for k, v in steps.items()}
    for kind in inputs:
        line = ", ".join(f"{k} {v['p50_ms']:.0f}/{v['p95_ms']:.0f}" for k, v in report[kind].items())
        print(f"{kind} (p50/p95 ms): {line}")
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
