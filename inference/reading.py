"""Reading an ECG off paper, top to bottom: photo -> sheet -> grid -> signals -> measurements.

    reading = read_ecg(image_bytes)
    if reading.ok:
        reading.measurements.heart_rate_bpm, reading.digitized.leads["V2"].signal, reading.page ...
    else:
        reading.reason  # a code: not_image, too_large, too_small, bad_aspect, animated, deep_image,
                        # no_sheet, cut_off, blurred, too_dark, sheet_too_small, not_ecg, untraceable

Each step is its own module and returns a typed result: `image_io` (decode, limits), `sheet` (find the
printout, rectify it to the canonical page), `ecg_check` (is it a 12-lead printout, on the rectified
sheet), `grid` (registration and scale), `digitize` (signals in mV), `measure` (what a clinician
measures). Nothing here guesses: a step that fails stops the reading with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inference import ecg_check, image_io, sheet as sheet_step
from inference import preprocess as P
from inference.digitize import digitize
from inference.grid import Grid, find_grid, ink_map
from inference.signals import Digitized

MIN_TRACED_LEADS = 8  # fewer traced leads than this: the page is not read


@dataclass(frozen=True)
class Reading:
    ok: bool
    reason: str | None = None  # why not, as a code (handlers/texts.py words it)
    detail: str | None = None  # the technical detail, for logs and the CLI
    sheet: sheet_step.Sheet | None = None
    grid: Grid | None = None
    digitized: Digitized | None = None
    measurements: object | None = None  # inference.measure.Measurements
    prepared: P.Prepared | None = None  # the classifier's input, cut from the rectified page

    @property
    def page(self) -> np.ndarray | None:
        return self.sheet.page if self.sheet is not None else None


def _check_area(ink: np.ndarray) -> np.ndarray:
    """The trace area of a rectified photo for the ECG check: the digitizer's strokes (adaptive ink,
    grid dots and noise specks dropped) at the size the check's rules were set on."""
    import cv2

    from inference.grid import stroke_mask

    x0, y0, x1, y1 = P.DEFAULT_BOX
    ah, aw = P.area_size()
    strokes = stroke_mask(ink[y0:y1, x0:x1]).astype(np.float32)
    return cv2.resize(strokes, (aw, ah), interpolation=cv2.INTER_AREA)


def refuse(reason: str, detail: str, **parts) -> Reading:
    return Reading(ok=False, reason=reason, detail=detail, **parts)


def read_ecg(data: bytes | str | np.ndarray) -> Reading:
    """The whole reading of one picture. Synchronous and CPU-bound: run it off the event loop."""
    from inference.measure import measure

    try:
        image = data if isinstance(data, np.ndarray) else image_io.load_image(data)
    except image_io.ImageRejected as exc:
        return refuse(exc.code, exc.detail)
    found = sheet_step.find_sheet(image)
    if found.problem is not None:
        return refuse(found.problem, found.problem_detail or found.problem, sheet=found)
    page = found.page
    # a scan as it is keeps the classifier's own grid search; a rectified photo is on the layout already
    prepared = P.prepare(page) if found.method == "as_is" else P.prepare_rectified(page)
    ink = ink_map(page)
    # the check reads a scan's own ink map; a photo's, with the digitizer's contrast-adaptive ink
    area = prepared.area if found.method == "as_is" else _check_area(ink)
    check = ecg_check.check(prepared.page, area)
    if not check.is_ecg:
        return refuse("not_ecg", check.reason or "not a 12-lead ECG printout", sheet=found, prepared=prepared)
    grid = find_grid(page, ink)
    digitized = digitize(page, grid, ink)
    traced = len(digitized.traced_leads)
    if traced < MIN_TRACED_LEADS:
        return refuse("untraceable", f"only {traced} of 12 leads could be traced", sheet=found, grid=grid,
                      digitized=digitized, prepared=prepared)
    return Reading(ok=True, sheet=found, grid=grid, digitized=digitized, measurements=measure(digitized),
                   prepared=prepared)
