"""How much of the rendered photos' low SNR is timing: each lead's best shift against its true signal.

    python -m training.studies.photo_lag [--pages 12]

Rendered pages with known signals (`training.page_render`) photographed by `training.photo_render` (the
same seeds as `training.eval_digitize`) are read by `read_ecg`; per lead, the shift (±25 samples at 500 Hz)
that best matches the truth is printed per page (leads in row order: I aVR V1 V4 / II aVL V2 V5 / III aVF V3
V6), then the median SNR as read and with every lead at its best shift. Measured 2026-12-03 on 12 pages:
median 5.7 dB as read, 7.4 dB at the best shifts, median |shift| 2 samples; the first column's leads mostly
late and the last column's early (the row's time axis a little stretched).
"""

from __future__ import annotations

import argparse

import numpy as np


def main(argv: list[str] | None = None) -> int:
    from inference.reading import read_ecg
    from training.eval_digitize import snr_db
    from training.page_render import render_random_page
    from training.photo_render import render_photo

    ap = argparse.ArgumentParser(prog="python -m training.studies.photo_lag", description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=12)
    a = ap.parse_args(argv)
    as_read, shifted, lags = [], [], []
    for seed in range(a.pages):
        page = render_random_page(seed)
        reading = read_ecg(render_photo(page.image, seed).jpeg)
        if not reading.ok:
            print(f"page {seed}: refused ({reading.reason})")
            continue
        page_lags = []
        for name, truth in page.truth["leads"].items():
            est = reading.digitized.leads[name].signal.astype(float)
            true = np.asarray(truth["signal"], float)[: len(est)]
            est = np.nan_to_num(est[: len(true)])
            inner = slice(30, -30)  # a shift wraps the ends around
            best = min(range(-25, 26), key=lambda k: np.mean((np.roll(est, k)[inner] - true[inner]) ** 2))
            as_read.append(snr_db(true[inner], est[inner]))
            shifted.append(snr_db(true[inner], np.roll(est, best)[inner]))
            page_lags.append(best)
        lags += page_lags
        print(f"page {seed}: shifts {page_lags}")
    print(f"median SNR {np.median(as_read):.1f} dB as read, {np.median(shifted):.1f} dB at the best shifts; "
          f"median |shift| {np.median(np.abs(lags)):.0f} samples")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
