"""Fast "is this a 12-lead ECG printout?" check, run before the model.

The classifier answers one of four ECG classes for any input, so a selfie or a text page must be
refused first. The check uses what every page of this layout has and ordinary images lack:
  * landscape aspect ratio (A4-like, w/h about 1.41);
  * mostly bright, unsaturated paper — bright *relative to its surroundings*, so a shadow across a
    photographed page does not make its paper "dark";
  * in each of the 4 trace rows a single continuous line running across nearly the full width
    (a text page has several lines per row and gaps; a photo has texture everywhere);
  * little ink overall in the trace area.
Thresholds were set on training pages and their photo-like distortions against generated and
library negatives; the evaluation reports the rates on held-out sets (see reports/).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inference import preprocess


@dataclass(frozen=True)
class EcgCheck:
    is_ecg: bool
    reason: str | None  # the first failed rule's code (RULES), None when it is an ECG
    features: dict


def _band_stats(area: np.ndarray) -> tuple[float, float, float]:
    """Per trace row: coverage (share of columns with trace), single-line share, trace smoothness."""
    ah, aw = area.shape
    x0, x1 = int(preprocess.COL_EDGES[0] * aw) + 4, int(preprocess.COL_EDGES[-1] * aw) - 4
    covs, singles, smooth = [], [], []
    for yc in preprocess.ROW_CENTRES:
        y0, y1 = int((yc - preprocess.ROW_HALF) * ah), int((yc + preprocess.ROW_HALF) * ah)
        band = area[max(0, y0):y1, x0:x1] > 0.3
        has = band.any(axis=0)
        covs.append(has.mean())
        # ink runs per column: a trace crosses a column once (spikes are one tall run)
        runs = (np.diff(band.astype(np.int8), axis=0) == 1).sum(axis=0) + band[0]
        singles.append((runs[has] <= 1).mean() if has.any() else 0.0)
        # vertical centre of the ink per column should move little between neighbouring columns
        ys = np.arange(band.shape[0])[:, None]
        cnt = band.sum(axis=0)
        cy = (band * ys).sum(axis=0) / np.maximum(cnt, 1)
        ok = has[1:] & has[:-1]
        jump = np.abs(np.diff(cy))[ok]
        smooth.append((jump < 0.12 * band.shape[0]).mean() if ok.any() else 0.0)
    # the best 3 of 4 rows (a shadow or a fold may spoil one)
    return (float(np.sort(covs)[1:].mean()), float(np.sort(singles)[1:].mean()), float(np.sort(smooth)[1:].mean()))


def _local_background(gray: np.ndarray) -> np.ndarray:
    """The brightest level around each pixel (about 70 px of the 1600 px page), smoothed: what white
    paper looks like there under the local light."""
    from scipy import ndimage as ndi

    return ndi.gaussian_filter(ndi.grey_dilation(gray, size=(9, 9)), 6) + 1e-3


def features(page: np.ndarray, area: np.ndarray) -> dict:
    h, w = page.shape[:2]
    small = page[::8, ::8].astype(np.float32)
    gray = small.mean(axis=2)
    sat = (small.max(axis=2) - small.min(axis=2)) / (small.max(axis=2) + 1e-3)
    paper = ((gray / _local_background(gray)) > 0.72) & (sat < 0.25)
    cov, single, smooth = _band_stats(area)
    return {
        "aspect": w / h,
        "paper": float(paper.mean()),
        "ink": float(area.mean()),
        "coverage": cov,
        "single_line": single,
        "smooth": smooth,
    }


# (feature, low, high, the reason code when outside; handlers/texts.py words each code)
RULES = (
    ("aspect", 1.15, 1.95, "not_landscape"),
    ("paper", 0.50, 1.01, "not_paper"),
    ("ink", 0.008, 0.12, "no_traces"),
    ("coverage", 0.85, 1.01, "broken_traces"),
    ("single_line", 0.85, 1.01, "not_single_traces"),
    ("smooth", 0.85, 1.01, "not_waveforms"),
)


# A rectified photo's area is the digitizer's trace mask (see `reading._check_area`): it keeps the faint
# flat trace that the scan's ink map loses in a photo, and with it the lead labels and separators a
# photo's blur joins to the trace, and the odd gap where glare washes the trace out. Its rows need a
# little less coverage and fewer single-line columns (real test pages' photos refused at 0.85: single
# line 0.74-0.84, coverage 0.80-0.82); the line-chart screenshots that then pass are refused by their
# coloured lines (`trace_saturation`).
PHOTO_RULES = {"coverage": 0.78, "single_line": 0.72}


def check(page: np.ndarray, area: np.ndarray, photo: bool = False) -> EcgCheck:
    """Apply the rules in order; the first that fails gives the reason code. `photo`: the area is a
    rectified photo's trace mask (PHOTO_RULES' lower bounds apply)."""
    f = features(page, area)
    for key, lo, hi, reason in RULES:
        if photo:
            lo = PHOTO_RULES.get(key, lo)
        if not (lo <= f[key] <= hi):
            return EcgCheck(False, reason, f)
    return EcgCheck(True, None, f)


MAX_TRACE_SATURATION = 0.3  # median colourfulness of a rectified photo's trace strokes, to be an ECG


def trace_saturation(page: np.ndarray, strokes: np.ndarray | None = None) -> float:
    """How coloured the strokes the digitizer would follow are, on a rectified, white-balanced photo:
    the median saturation of the trace mask's pixels inside the grid rectangle. The printout's trace
    is black (photos of the real test pages: at most 0.15); a chart screenshot's lines are coloured
    (generated line-chart screenshots: 0.45 and more) and otherwise pass for four rows of traces.
    `strokes`: the page's trace mask when the caller has it already."""
    from inference import layout
    from inference.digitize import trace_mask

    x0, y0, x1, y1 = layout.GRID_BOX
    box = page[y0:y1, x0:x1]
    mask = trace_mask(np.ascontiguousarray(box[..., 0])) if strokes is None else strokes[y0:y1, x0:x1]
    px = box[mask].astype(np.float32)
    if len(px) == 0:
        return 0.0
    top = px.max(axis=1)
    return float(np.median((top - px.min(axis=1)) / (top + 1.0)))
