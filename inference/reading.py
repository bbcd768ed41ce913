"""Reading an ECG off paper, top to bottom: photo -> sheet -> grid -> signals -> measurements.

    reading = read_ecg(image_bytes)
    if reading.ok:
        reading.measurements.heart_rate_bpm, reading.digitized.leads["V2"].signal, reading.page ...
    else:
        reading.reason  # a code of REASON_CODES: not_image, too_large, too_small, bad_aspect, animated, deep_image,
                        # no_sheet, cut_off, blurred, too_dark, sheet_too_small, not_ecg, unoriented,
                        # untraceable

Each step is its own module and returns a typed result: `image_io` (decode, limits), `sheet` (find the
printout, rectify it to the canonical page), `ecg_check` (is it a 12-lead printout, on the rectified
sheet), `grid` (registration and scale), `digitize` (signals in mV), `measure` (what a clinician
measures). Nothing here guesses: a step that fails stops the reading with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from inference import ecg_check, image_io, sheet as sheet_step
from inference import layout as L
from inference import preprocess as P
from inference.digitize import digitize, trace_mask
from inference.grid import Grid, find_grid, ink_map, pulse_shapes
from inference.signals import Digitized

REASON_CODES = ("not_image", "too_large", "too_small", "bad_aspect", "animated", "deep_image", "no_sheet",
                "cut_off", "blurred", "too_dark", "sheet_too_small", "not_ecg", "unoriented", "untraceable")
MIN_TRACED_LEADS = 8  # fewer traced leads than this: the page is not read


@dataclass(frozen=True)
class Reading:
    ok: bool
    reason: str | None = None  # why not, as a code (handlers/texts.py words it)
    detail: str | None = None  # the technical detail, for logs and the CLI (not_ecg: the failed rule's code)
    sheet: sheet_step.Sheet | None = None
    grid: Grid | None = None
    digitized: Digitized | None = None
    measurements: object | None = None  # inference.measure.Measurements
    scan_input: P.Prepared | None = None  # a scan's image-model input, made for the ECG check

    @property
    def page(self) -> np.ndarray | None:
        return self.sheet.page if self.sheet is not None else None

    @cached_property
    def prepared(self) -> P.Prepared | None:
        """The image model's input (the heat map's), cut from the rectified page: a scan's as the ECG check
        made it, a photo's when first asked for (the reading itself does not need it: `ecg-bot digitize` and
        the diagnosis never do)."""
        if self.scan_input is not None:
            return self.scan_input
        return P.prepare_rectified(self.page) if self.page is not None else None


def _check_area(strokes: np.ndarray) -> np.ndarray:
    """The trace area of a rectified photo for the ECG check: the digitizer's own trace mask of the
    page (`digitize.trace_mask`, computed once per photo), cut to the check's box at the size its rules
    were set on. Not `grid.stroke_mask(ink_map)`: its darkness is relative to the strongest ink a row
    pitch around, so beside a dark QRS spike a photo's faint flat trace falls under the threshold and
    the rows look broken ("no continuous traces")."""
    import cv2

    x0, y0, x1, y1 = P.DEFAULT_BOX
    ah, aw = P.area_size()
    return cv2.resize(strokes[y0:y1, x0:x1].astype(np.float32), (aw, ah), interpolation=cv2.INTER_AREA)




def _pulses_in_place(grid: Grid) -> bool:
    """The grid's scale came from calibration pulses and at least one of them marks a row's start
    (t = 0) where the layout has it. The scale alone is no proof: on a page upside down the rows' ends
    and QRS spikes can pass for pulses (then of the wrong height, and not at the rows' starts)."""
    return grid.scale_source == "calibration" and any(t == 0.0 for marks in grid.row_marks for _, t in marks)


MIN_PULSE_SHAPES = 3  # rows whose start shows the pulse's shape that tell a blurred photo's way up


def _pulse_shapes_upright(page: np.ndarray, grid: Grid) -> bool:
    """The pulses' shape at the starts of at least MIN_PULSE_SHAPES rows and turned over at no row's end
    (`grid.pulse_shapes`): the page lies the right way up, though its pulses are too blurred to measure."""
    upright, turned = pulse_shapes(page, grid.baselines_y)
    return upright >= MIN_PULSE_SHAPES and turned == 0


# The ECG check's rules on the traces' ink that a photo of a printout can fail (a lamp's glare washes a
# stretch of trace out, a tachycardia's wide waves ink more than the rule allows) ...
LAYOUT_OVERRIDES = ("no_traces", "broken_traces", "not_single_traces")
MIN_LAYOUT_PULSES = 3  # ... passed all the same when the page shows this many calibration pulses in place
MIN_LAYOUT_SEPARATORS = 2  # ... and this many lead separators


def _shows_the_layout(grid: Grid) -> bool:
    """The printout's own marks where the layout has them: calibration pulses at the rows' starts and
    the lead separators between the columns. No photo, document or chart has them; a rectified photo of
    the printout whose traces glare washed out does (whether enough of them can be traced is the
    digitizer's to say: fewer than MIN_TRACED_LEADS leads are refused as untraceable)."""
    sep_t = [(x - L.T0_X) / L.PX_PER_S for x in L.SEPARATOR_X]
    on_rows = {k for marks in grid.row_marks for _, t in marks for k, st in enumerate(sep_t) if abs(t - st) < 1e-6}
    seen = max(len(grid.separators_x), len(on_rows))  # across the three rows, or on a row of its own
    return len(grid.pulses) >= MIN_LAYOUT_PULSES and seen >= MIN_LAYOUT_SEPARATORS and _pulses_in_place(grid)


def refuse(reason: str, detail: str, **parts) -> Reading:
    return Reading(ok=False, reason=reason, detail=detail, **parts)


def read_ecg(data: bytes | str | np.ndarray) -> Reading:
    """The whole reading of one picture. Synchronous and CPU-bound: run it off the event loop."""
    try:
        image = data if isinstance(data, np.ndarray) else image_io.load_image(data)
    except image_io.ImageRejected as exc:
        return refuse(exc.code, exc.detail)
    found = sheet_step.find_sheet(image)
    if found.problem is not None:
        return refuse(found.problem, found.problem_detail or found.problem, sheet=found)
    return _read_or_retry(image, found)


def _read_or_retry(image: np.ndarray, found: sheet_step.Sheet) -> Reading:
    """The reading of the sheet found, or, when a photo's page is refused for a reason a wrong outline
    gives (the outline on the wrong part of the picture: a corner under a pen or in shadow), of another
    of the best outlines whose rows show their pulses in place (`sheet.alternative`) if that one reads."""
    reading = _read_sheet(found)
    if reading.reason in RETRY_REASONS and found.method != "as_is":
        other = sheet_step.alternative(image, found)
        if other is not None:
            again = _read_sheet(other)
            if again.ok:
                return again
    return reading


RETRY_REASONS = ("not_ecg", "unoriented")  # refusals of a photo's page that another outline may undo


def _read_sheet(found: sheet_step.Sheet) -> Reading:
    """The reading of a found sheet: the ECG check, the grid, which way up, the signals, the measurements."""
    from inference.measure import measure

    page = found.page
    photo = found.method != "as_is"
    # a scan as it is keeps the classifier's own grid search, and its check reads the classifier's ink map;
    # a photo's check reads the digitizer's trace mask (see _check_area), and its classifier input, on the
    # layout already, is cut only if the heat map asks for it (`Reading.prepared`)
    prepared = None if photo else P.prepare(page)
    ink = ink_map(page)
    strokes = trace_mask(page[..., 0]) if photo else None  # the digitizer's trace mask, made once
    area = _check_area(strokes) if photo else prepared.area
    check = ecg_check.check(page if photo else prepared.page, area, photo=photo)
    grid = find_grid(page, ink) if photo else None
    if not check.is_ecg and not (photo and check.reason in LAYOUT_OVERRIDES and _shows_the_layout(grid)):
        return refuse("not_ecg", check.reason or "not a 12-lead ECG printout", sheet=found, scan_input=prepared)
    if photo:
        # the photo's trace mask keeps faint strokes, so a line chart's rows pass the check: its coloured
        # lines tell it from a printout's black trace — unless the printout's own pulses and separators
        # stand where the layout has them (no chart has them; a dim photo's warm cast can tint black ink)
        colour = ecg_check.trace_saturation(page, strokes)
        if colour > ecg_check.MAX_TRACE_SATURATION and not _shows_the_layout(grid):
            return refuse("not_ecg", "coloured_traces", sheet=found, scan_input=prepared)
    grid = grid if grid is not None else find_grid(page, ink)
    if photo and not _pulses_in_place(grid) and not _pulse_shapes_upright(page, grid):
        # a photo rectified upside down reads every trace inverted (a made-up diagnosis): which way up
        # the page is must show on it, by the calibration pulses at the rows' left ends (measured, or
        # too blurred to measure but their shape there and not at the far ends) or else by the header's
        # rule across the top. With neither, refuse.
        rule = sheet_step.header_rule_cover(page)
        if rule < sheet_step.ORIENTED_RULE:  # the header rule's cover a photo without its pulses needs
            return refuse("unoriented", f"which way up the sheet lies cannot be told (no calibration pulse "
                          f"at the rows' starts, header rule cover {rule:.2f})", sheet=found, grid=grid,
                          scan_input=prepared)
    digitized = digitize(page, grid, ink, photo=photo, strokes=strokes)
    traced = len(digitized.traced_leads)
    if traced < MIN_TRACED_LEADS:
        return refuse("untraceable", f"only {traced} of 12 leads could be traced", sheet=found, grid=grid,
                      digitized=digitized, scan_input=prepared)
    return Reading(ok=True, sheet=found, grid=grid, digitized=digitized, measurements=measure(digitized),
                   scan_input=prepared)
