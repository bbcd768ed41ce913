"""Step 2 of reading a page: the scale and the registration of the printed layout on the level sheet.

Input: the canonical page from `inference.sheet` (1600 x 1137, level). Output: `Grid`, which says where
each row's zero line is, where t = 0 s is, and how many pixels a millivolt and a second are.

What is used, in order of trust (a feasibility study on these pages showed it):
  * the calibration pulses (10 mm = 1 mV) at the start of the rows: their feet are the rows' zero lines
    and their height the vertical scale;
  * the thin lead separators (62.5 mm = 2.5 s apart): the horizontal scale and t = 0, and on a photo
    each row's time landmarks (where a row's ink misses them, from the paper's darkening in the gaps
    between the rows: `gap_separators`);
  * the dotted pink grid's period, measured where it is visible, only as a cross-check (a frequency
    estimate of a *dotted* grid is unreliable on photos);
  * the known layout (25 mm/s, 10 mm/mV at 5.688 px/mm) when neither is seen.

`pulse_shapes` tells which way up a blurred photo lies when its pulses cannot be measured (`reading`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from inference import layout as L

MIN_BLOB_PX = 12  # ink blobs smaller than this are grid dots or noise, not trace
STROKE_THRESHOLD = 0.30  # ink level of a stroke pixel
STROKE_HALF = 1.5  # px: half the printed line width
END_INSIDE = 8  # columns inside the trace's first (last) inked one that give the stroke's own ink
END_OUTSIDE = 8  # columns beyond it where its blurred edge is looked for
# px from the trace's half-ink edge to its first and last point (the line's cap; measured on rendered scans)
START_EDGE, END_EDGE = 1.6, 0.8
LINE_REACH = 6  # px either side of a pulse's line where its blurred ink is summed
LOCAL_FLOOR = 0.12  # darkness below which a region's ink is not stretched (see ink_map)


@dataclass(frozen=True)
class Pulse:
    row: int
    foot_y: float  # the zero line of the row, where the pulse stands
    top_y: float
    x0: float  # rising edge
    x1: float  # falling edge

    @property
    def height_px(self) -> float:
        return self.foot_y - self.top_y


@dataclass(frozen=True)
class Grid:
    baselines_y: tuple[float, float, float, float]  # zero line of each printed row
    t0_x: float  # x of t = 0 s
    px_per_s: float
    px_per_mv: float
    pulses: tuple[Pulse, ...]  # the calibration pulses found (0 to 4)
    separators_x: tuple[float, ...]  # lead separators found (0 to 3)
    grid_px_per_mm: float | None  # the pink grid's own period where visible, else None
    scale_source: str  # "calibration" | "grid" | "layout": where px_per_mv came from
    time_source: str  # "separators" | "layout"
    # per row: (x, t) landmarks found on that row (trace start, separators, trace end); empty: none
    row_marks: tuple[tuple[tuple[float, float], ...], ...] = ((), (), (), ())

    def x_of(self, t_s: float | np.ndarray) -> float | np.ndarray:
        return self.t0_x + np.asarray(t_s) * self.px_per_s

    def time_of(self, row: int, x: np.ndarray) -> np.ndarray:
        """The time (s) printed at page column x on a row: piecewise linear through the row's own
        landmarks where it has at least two (a photo's residual bend), else the global time base."""
        marks = self.row_marks[row] if row < len(self.row_marks) else ()
        t_global = (np.asarray(x, float) - self.t0_x) / self.px_per_s
        if len(marks) < 2:
            return t_global
        mx = np.array([m[0] for m in marks])
        mt = np.array([m[1] for m in marks])
        t = np.interp(x, mx, mt)
        # beyond the outer landmarks: continue with the nearest segment's slope
        lo_slope = (mt[1] - mt[0]) / (mx[1] - mx[0])
        hi_slope = (mt[-1] - mt[-2]) / (mx[-1] - mx[-2])
        x = np.asarray(x, float)
        t = np.where(x < mx[0], mt[0] + (x - mx[0]) * lo_slope, t)
        return np.where(x > mx[-1], mt[-1] + (x - mx[-1]) * hi_slope, t)


def ink_map(page: np.ndarray) -> np.ndarray:
    """Trace darkness in [0, 1] (float32): the red channel against its local paper level, so the pink
    grid (bright in red) and uneven light vanish while the black trace stays."""
    red = page[..., 0] if page.ndim == 3 else page
    bg = cv2.morphologyEx(red, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    bg = cv2.blur(bg, (15, 15)).astype(np.float32)
    dark = np.clip(1.0 - red.astype(np.float32) / np.maximum(bg, 1.0), 0.0, 1.0)
    # a print's trace is 80 % darker than its paper, a photo's under a lamp's glare as little as 12 %:
    # scale the darkness by the strongest darkness around it (1 cm wide), so a faint stroke reaches
    # 1 too; the floor keeps empty paper's noise low (its specks are dropped later as too small)
    # (the window is a row pitch tall, so between the rows the nearest trace sets the scale and the
    # grid's dots stay faint)
    near = cv2.blur(cv2.dilate(dark, np.ones((221, 61), np.uint8)), (31, 31))
    rel = dark / np.clip(near, LOCAL_FLOOR, 1.0)
    # then a threshold curve: a grid dot, a quarter as dark as the trace, stays below the stroke level
    return np.clip((rel - 0.2) / 0.5, 0.0, 1.0)


def _longest_run(on: np.ndarray) -> tuple[int, int]:
    """(first, last) index of the longest run of True."""
    edges = np.diff(np.r_[0, on.astype(np.int8), 0])
    starts, ends = np.where(edges == 1)[0], np.where(edges == -1)[0] - 1
    if len(starts) == 0:
        return 0, 0
    k = int((ends - starts).argmax())
    return int(starts[k]), int(ends[k])


def _pulse(ink: np.ndarray, row: int) -> Pulse | None:
    """The calibration pulse at the start of a row: two vertical strokes ~56 px tall joined by a top."""
    y_ref = L.BASELINE_Y[row]
    y0, y1 = int(y_ref - 1.6 * L.PX_PER_MV), int(y_ref + 0.5 * L.PX_PER_MV)
    x0, x1 = int(L.CAL_X[0] - 25), int(L.CAL_X[1] + 10)
    win = ink[max(0, y0):y1, max(0, x0):x1]
    if win.size == 0:
        return None
    # relative to the window's own strongest ink: a photo's thin vertical strokes are faint
    sub = win > max(0.12, 0.4 * float(win.max()))
    colh = sub.sum(axis=0)  # vertical strokes: long runs in a column
    tall = np.where(colh > 0.6 * L.PX_PER_MV)[0]
    if len(tall) < 2:
        return None
    groups = np.split(tall, np.where(np.diff(tall) > 2)[0] + 1)
    if len(groups) < 2:
        return None
    left, right = groups[0], groups[-1]
    width = right.mean() - left.mean()
    if not (4 <= width <= 40):
        return None
    top, foot = _longest_run(sub[:, np.r_[left, right]].any(axis=1))  # stray grid dots are short runs
    height = foot - top
    if not (0.6 * L.PX_PER_MV <= height <= 1.5 * L.PX_PER_MV):
        return None
    # the lines' centres: the ink's centroid across the top bar (between the two strokes) and across the
    # feet (outside them), sub-pixel and unmoved by blur; else half a sharp line inside the ink
    inner = np.arange(left.max() + 3, right.min() - 2)
    outer = np.r_[np.arange(max(0, left.min() - 6), left.min() - 2), np.arange(right.max() + 3, right.max() + 7)]
    top_y = _line_centre(win, top + STROKE_HALF, inner)
    foot_y = _line_centre(win, foot - STROKE_HALF, outer[outer < win.shape[1]])
    return Pulse(row=row, foot_y=float(y0 + foot_y), top_y=float(y0 + top_y),
                 x0=float(x0 + left.mean()), x1=float(x0 + right.mean()))


def _line_centre(win: np.ndarray, y_guess: float, cols: np.ndarray) -> float:
    """The centre row of a horizontal line near y_guess in columns `cols` of `win`: its ink's centroid
    within LINE_REACH rows; y_guess when the columns hold too little ink to tell."""
    a, b = int(round(y_guess)) - LINE_REACH, int(round(y_guess)) + LINE_REACH + 1
    if len(cols) == 0 or a < 0 or b > win.shape[0]:
        return y_guess
    prof = win[a:b][:, cols].mean(axis=1)
    if prof.sum() < 1.0:
        return y_guess
    return float(a + np.dot(prof, np.arange(len(prof))) / prof.sum())


PULSE_SHAPE_NCC = 0.6  # normalised correlation with the printed pulse's shape that shows one is there
PULSE_SHAPE_SLACK = 15  # px either way around its place the pulse's shape is looked for
PULSE_SHAPE_BLUR = 2.0  # px: the drawn pulse blurred about as a phone photo's is, after rectification


def _darkness(page: np.ndarray) -> np.ndarray:
    """1 - red / the paper's red around (its brightest within 15 px): any stroke, however blurred or faint."""
    red = (page[..., 0] if page.ndim == 3 else page).astype(np.float32)
    return np.clip(1.0 - red / np.maximum(cv2.dilate(red, np.ones((31, 31), np.uint8)), 1.0), 0.0, 1.0)


def _pulse_template() -> np.ndarray:
    """The calibration pulse as the layout prints it (feet, a 1 mV step up and down), blurred."""
    pad = 8
    foot, top = pad + int(round(L.PX_PER_MV)), pad
    xa, xb = (int(round(x - L.CAL_X[0])) + pad for x in PULSE_X)
    w = int(L.CAL_X[1] - L.CAL_X[0]) + 2 * pad
    t = np.zeros((foot + pad, w), np.float32)
    pts = np.array([(pad, foot), (xa, foot), (xa, top), (xb, top), (xb, foot), (w - pad, foot)], np.int32)
    cv2.polylines(t, [pts], False, 1.0, 3)
    return cv2.GaussianBlur(t, (0, 0), PULSE_SHAPE_BLUR)


def pulse_shapes(page: np.ndarray, baselines=L.BASELINE_Y) -> tuple[int, int]:
    """(rows showing the calibration pulse's shape at their start, rows showing it turned over at their
    end): which way up a rectified photo lies when its pulses are too blurred for `_pulse` to measure
    (their two strokes run together) — the shape still correlates with the printed one. On a page
    rectified upside down the pulses stand turned at the rows' far ends (the rows registered by their
    ends: x -> T0_X + x_end - x) and below their zero lines; the rows' starts show no such shape."""
    dark = _darkness(page)
    tpl = _pulse_template()
    th, tw = tpl.shape
    pad = 8
    x_end = L.T0_X + L.DURATION_S * L.PX_PER_S
    s = PULSE_SHAPE_SLACK
    upright = turned = 0
    for r, y in enumerate(baselines):
        # upright: the template's foot line on the row's zero line, its left edge at CAL_X[0] - pad
        ya, xa = int(round(y)) - (th - pad) - s, int(L.CAL_X[0]) - pad - s
        win = dark[max(0, ya):ya + th + 2 * s, max(0, xa):xa + tw + 2 * s]
        if win.shape[0] >= th and win.shape[1] >= tw and win.max() > 0:
            upright += float(cv2.matchTemplate(win, tpl, cv2.TM_CCOEFF_NORMED).max()) >= PULSE_SHAPE_NCC
        # turned: where the pulse of the row that would lie here stands on a page upside down
        yt = L.BASELINE_Y[0] + L.BASELINE_Y[3] - L.BASELINE_Y[3 - r]
        yb, xb = int(round(y + (yt - L.BASELINE_Y[r]))) - pad - s, int(L.T0_X + x_end - L.CAL_X[1]) - pad - 2 * s
        win = dark[max(0, yb):yb + th + 2 * s, max(0, xb):xb + tw + 4 * s]
        if win.shape[0] >= th and win.shape[1] >= tw and win.max() > 0:
            ncc = float(cv2.matchTemplate(win, np.ascontiguousarray(tpl[::-1, ::-1]), cv2.TM_CCOEFF_NORMED).max())
            turned += ncc >= PULSE_SHAPE_NCC
    return upright, turned


def _separators(ink: np.ndarray, reach: int = 12, min_cover: float = 0.7, slack: int = 0) -> list[float]:
    """The thin vertical lines between the lead columns: ink over most of rows 1-3 in one column (give or
    take `slack` px: a line a little off vertical), within `reach` px of their places (nan where not
    found). No QRS makes such a line: the three rows' complexes in one column leave gaps between rows."""
    ya, yb = int(L.BASELINE_Y[0] - 0.6 * L.PX_PER_MV), int(L.BASELINE_Y[2] + 0.4 * L.PX_PER_MV)
    found = []
    for xs in L.SEPARATOR_X:
        x0, x1 = int(xs - reach), int(xs + reach + 1)
        win = ink[ya:yb, x0:x1]
        on = (win > max(0.12, 0.4 * float(win.max()))).astype(np.uint8)
        if slack:
            on = cv2.dilate(on, np.ones((1, 2 * slack + 1), np.uint8))
        col = on.mean(axis=0)
        k = int(col.argmax())
        if col[k] > min_cover:
            near = np.where(col > 0.5 * col[k])[0]
            near = near[np.abs(near - k) <= 3]
            found.append(float(x0 + near.mean()))
        else:
            found.append(float("nan"))
    return found


SEPARATOR_SEARCH = 120  # px either side of its place a lead separator is looked for on a rough page
SEPARATOR_COVER = 0.8  # ... where it must ink this share of the three rows' band


def separator_x_map(ink: np.ndarray) -> tuple[float, float] | None:
    """(a, b) with canonical x = a * observed x + b from the three lead separators found far from their
    places (a photo's page registered a few per cent too wide or too narrow: the rows' own landmarks are
    looked for near their places only). None unless all three are found, evenly spaced, at a plausible
    scale."""
    seps = _separators(ink, SEPARATOR_SEARCH, SEPARATOR_COVER, slack=2)
    if not np.all(np.isfinite(seps)):  # two alone could be a separator and a stroke of something else
        return None
    obs, ref = np.array(seps), np.array(L.SEPARATOR_X)
    if abs(np.diff(obs)[0] / np.diff(obs)[1] - 1.0) > 0.04:
        return None
    a, b = np.polyfit(obs, ref, 1)
    if not 0.85 < a < 1.15:
        return None
    return float(a), float(b)


def components(on: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """(count, labels, stats) of the 8-connected blobs of a binary uint8 image, as
    `cv2.connectedComponentsWithStats` gives them. Labelled in 16 bits first: OpenCV does that about four
    times as fast as in 32 (it raises when a picture holds more than 65535 blobs: then in 32)."""
    try:
        n, lab, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(on, 8, cv2.CV_16U, cv2.CCL_DEFAULT)
    except cv2.error:
        n, lab, stats, _ = cv2.connectedComponentsWithStats(on, connectivity=8)
    return n, lab, stats


def stroke_mask(ink: np.ndarray) -> np.ndarray:
    """Ink above threshold without the specks: grid dots and JPEG noise are blobs of a few pixels, the
    trace is one long connected stroke."""
    on = (ink > STROKE_THRESHOLD).astype(np.uint8)
    n, lab, stats = components(on)
    keep = stats[:, cv2.CC_STAT_AREA] >= MIN_BLOB_PX
    keep[0] = False
    return keep[lab]


GAP_DIP = 0.08  # a lead separator darkens the paper between the rows by at least this share of its level
GAP_LEAN = 3.0  # px: one separator's crossings of the two gaps between rows 0-2 agree within this
GAP_OVERRIDE = 5.0  # px: a separator the row showed this far from the line through the gaps is a QRS beside it
GAP_BACKGROUND = 41  # px: the paper's level beside a column is the brightest one this wide around it


@dataclass(frozen=True)
class GapLine:
    """A lead separator seen where no trace runs: x = x_a + (y - y_a) * lean, through its crossings of
    the gaps between rows 0-1 (at y_a) and 1-2."""
    x_a: float
    y_a: float
    lean: float  # px of x per px of y

    def x_at(self, y: float) -> float:
        return self.x_a + (y - self.y_a) * self.lean


def _dip_peak(dip: np.ndarray, lo: int, hi: int) -> tuple[float, float]:
    """(sub-pixel x, depth) of the deepest dip in dip[lo:hi] (parabola through its three samples)."""
    lo, hi = max(1, lo), min(len(dip) - 1, hi)
    k = lo + int(np.argmax(dip[lo:hi]))
    a, b, c = float(dip[k - 1]), float(dip[k]), float(dip[k + 1])
    den = a - 2 * b + c
    off = 0.5 * (a - c) / den if den < 0 else 0.0
    return k + float(np.clip(off, -0.5, 0.5)), b


def gap_separators(page: np.ndarray, baselines=L.BASELINE_Y, reach: int = 120) -> list[GapLine | None]:
    """The three lead separators from the paper between the trace rows, where only they and the grid
    run: per column the median brightness of each gap (a deep S wave or a label crossing a gap is a
    minority of its rows), its darkening against the paper beside it (`GAP_BACKGROUND`), the deepest
    darkening within `reach` px of each separator's place. Independent of the trace's darkness (a
    photo's thin separators are blurred wider than `ink_map`'s closing and fainter than its traces, so
    its ink misses them). None where a gap shows no dip of `GAP_DIP` or the two gaps disagree by more
    than `GAP_LEAN` px (a pen or a crease, not a printed line)."""
    grey = page[..., 0] if page.ndim == 3 else page
    dips, ys = [], []
    for r in (0, 1):
        ya = int(baselines[r] + 0.5 * L.PX_PER_MV)
        yb = int(baselines[r + 1] - 0.5 * L.PX_PER_MV)
        if yb - ya < 20 or ya < 0 or yb > grey.shape[0]:
            return [None, None, None]
        prof = np.median(grey[ya:yb], axis=0).astype(np.float32)
        bg = cv2.dilate(prof[None, :], np.ones((1, GAP_BACKGROUND), np.uint8))[0]
        dips.append((bg - prof) / np.maximum(bg, 1.0))
        ys.append(0.5 * (ya + yb))
    out: list[GapLine | None] = []
    for xs in L.SEPARATOR_X:
        (xa, da), (xb, db) = (_dip_peak(d, int(xs - reach), int(xs + reach + 1)) for d in dips)
        if min(da, db) < GAP_DIP or abs(xa - xb) > GAP_LEAN:
            out.append(None)
        else:
            out.append(GapLine(xa, ys[0], (xb - xa) / (ys[1] - ys[0])))
    return out


PULSE_X = (75.5, 88.0)  # the calibration pulses' rising and falling strokes on the canonical page
SEPARATOR_REACH = 20  # px either side of its place a lead separator is looked for
SEPARATOR_LEVEL = 0.25  # of the darkest ink around: a faint separator's pixel (else 0.4)
MARKS_STRETCH = 0.10  # a row's landmarks whose spacing is off the layout's by more than this are not trusted


def _separator_x(ink: np.ndarray, y_zero: float, xs: float, row: int | None = None,
                 faint: bool = True) -> float | None:
    """A lead separator near canonical x `xs` on a row: a column inked over most of the row's middle
    band (relative to the band's own strongest ink: a photo's thin lines are faint), unless the gaps
    between the rows show a fainter one elsewhere (`_faint_separator_x`)."""
    x0 = int(xs - SEPARATOR_REACH)
    win = ink[max(0, int(y_zero - 0.4 * L.PX_PER_MV)):max(0, int(y_zero + 0.4 * L.PX_PER_MV)),
              max(0, x0):int(xs + SEPARATOR_REACH + 1)]
    if win.size == 0 or win.max() < 0.2:
        return None
    col = (win > max(0.12, 0.4 * float(win.max()))).mean(axis=0)
    j = int(col.argmax())
    in_gaps = _faint_separator_x(ink, y_zero, xs, row, float(win.max())) if faint else None
    if col[j] < 0.85:
        return in_gaps
    x = _centre(col, j, max(0, x0))
    # the column found in the row's band is a QRS beside a fainter separator when the gaps show the line elsewhere
    return in_gaps if in_gaps is not None and abs(in_gaps - x) > 2.0 else x


def _centre(col: np.ndarray, j: int, x0: int) -> float:
    near = np.arange(max(0, j - 3), min(len(col), j + 4))
    near = near[col[near] > 0.5 * col[j]]
    return float(x0 + np.average(near, weights=col[near]))


def _faint_separator_x(ink: np.ndarray, y_zero: float, xs: float, row: int | None, dark: float) -> float | None:
    """A photo's separator fainter than the trace (`SEPARATOR_LEVEL` of its darkest ink `dark`) and
    leaning a pixel: looked for where no trace runs, in the gaps between the rows next to this one's
    zero line (the separators run through them; a tall QRS beside the line fills the row's own band,
    not the gap) — it must ink each gap's column."""
    x0 = int(xs - SEPARATOR_REACH)
    below = (y_zero + 0.5 * L.PX_PER_MV, y_zero + 0.5 * L.ROW_PITCH)
    above = (y_zero - 0.5 * L.ROW_PITCH, y_zero - 0.5 * L.PX_PER_MV)
    gaps = {0: [below], 2: [above]}.get(row, [above, below])
    found = []
    for ya, yb in gaps:
        win = ink[max(0, int(ya)):max(0, int(yb)), max(0, x0):int(xs + SEPARATOR_REACH + 1)]
        if win.size == 0:
            return None
        on = (win > max(0.12, SEPARATOR_LEVEL * dark)).astype(np.uint8)
        col = cv2.dilate(on, np.ones((1, 3), np.uint8)).mean(axis=0)
        j = int(col.argmax())
        if col[j] < 0.85:
            return None
        found.append(_centre(col, j, max(0, x0)))
    return float(np.mean(found))


def _trace_end(band: np.ndarray, x_in: int, step: int) -> float:
    """Where the trace's ink ends going outward (step -1: its start, +1: its end) from column x_in,
    inside its first or last inked column: the sub-pixel column where the darkest ink of the row's band
    falls to half the stroke's own. Blur (a photo's) spreads and fades the end; a symmetric blur keeps
    the half level where the edge is, a threshold does not (the start read late, the end early)."""
    xs = np.clip(x_in + step * np.arange(-END_INSIDE, END_OUTSIDE + 1), 0, band.shape[1] - 1)
    prof = band[:, xs].max(axis=0)  # inward first, outward last
    level = float(np.median(prof[:END_INSIDE - 2]))
    below = np.where(prof[END_INSIDE - 2:] < level / 2)[0]
    if level < 0.2 or len(below) == 0 or below[0] == 0:
        return float(x_in)
    k = END_INSIDE - 2 + int(below[0])  # the first column under half; the one before is above
    frac = (prof[k - 1] - level / 2) / max(float(prof[k - 1] - prof[k]), 1e-6)
    return float(xs[k - 1] + step * frac)


def row_landmarks(ink: np.ndarray, strokes: np.ndarray, row: int, y_zero: float,
                  faint: bool = True, gaps: list[GapLine | None] | None = None) -> list[tuple[float, float]]:
    """(observed x, canonical x) of one row's vertical landmarks: the calibration pulse's two strokes,
    where the trace starts (after the pulse and its gap), the lead separators (rows 0-2) and where the
    trace ends. Empty when they do not agree with one linear map (a pen or a finger can fake an end).
    `faint`: also look for separators fainter than the trace, in the gaps between the rows (the final
    grid does; the sheet's refinement, tuned without, does not: on a page still far off its rows a
    stroke in a gap passes for one).
    `sheet` fits the homography's x to them and `Grid.time_of` times each row by them."""
    ya, yb = int(y_zero - 0.9 * L.PX_PER_MV), int(y_zero + 0.6 * L.PX_PER_MV)
    band = strokes[max(0, ya):max(0, yb)]
    if band.size == 0:
        return []
    cols = band.any(axis=0)
    ink_band = ink[max(0, ya):max(0, yb)]
    marks: list[tuple[float, float]] = []
    # the pulse is looked for at the layout's height: the row moved there (only the columns `_pulse` reads)
    left = ink[:, :int(L.CAL_X[1] + 10) + 1]
    p = _pulse(ink if abs(y_zero - L.BASELINE_Y[row]) < 1 else
               np.roll(left, -int(round(y_zero - L.BASELINE_Y[row])), axis=0), row)
    if p is not None:
        marks += [(p.x0, PULSE_X[0]), (p.x1, PULSE_X[1])]
    # start: the first inked column after a gap of >= 6 empty columns following the pulse
    lo, hi = int(L.T0_X - 25), int(L.T0_X + 25)
    empty = 0
    for k, on in enumerate(cols[lo:hi]):
        if not on:
            empty += 1
        elif empty >= 6:
            x = _trace_end(ink_band, lo + k, -1) + START_EDGE  # its edge lies before the line's first point
            # trusted only beside a found pulse, at the printed gap from it (else it may be a label)
            if p is not None and abs((x - p.x1) - (L.T0_X - PULSE_X[1])) <= 4:
                marks.append((x, L.T0_X))
            break
        else:
            empty = 0
    lines = []  # the separators' lines through the gaps, where the row's own ink did not show them
    for i, xs in enumerate(L.SEPARATOR_X):
        x = _separator_x(ink, y_zero, xs, row, faint) if row < 3 else None
        line = gaps[i].x_at(y_zero) if gaps is not None and gaps[i] is not None else None
        if line is not None and (x is None or abs(x - line) > GAP_OVERRIDE):
            # not seen on the row, or what the row showed is a QRS beside the line (a column of the
            # row's band, where the gaps show the line elsewhere)
            lines.append((line, xs))
        elif x is not None:
            marks.append((x, xs))
    x_end = L.T0_X + L.DURATION_S * L.PX_PER_S
    # the end: the last inked column near the layout's, in the final grid not counting a vertical line
    # across the whole band (the red rectangle round the grid, just past the rows' ends on a page
    # registered a little narrow; the sheet's refinement, fitted with such ends, registers worse without)
    near_end = slice(int(x_end - 30), int(x_end + 30))
    line = np.zeros(band.shape[1], bool)
    if faint:
        line = cv2.dilate((band.mean(axis=0) >= 0.9).astype(np.uint8)[None, :], np.ones((1, 7), np.uint8))[0] > 0
    tail = np.where(cols[near_end] & ~line[near_end])[0]
    if len(tail) and tail[-1] < 59:
        marks.append((_trace_end(ink_band, int(x_end - 30) + int(tail[-1]), 1) - END_EDGE, x_end))
    # rows 0-2: the lines cross the row; the strip lies below them, where they are extended to: only
    # when the strip's own start and end are not both found
    ends = sum(ref in (L.T0_X, x_end) for _, ref in marks)
    if row < 3 or ends < 2:
        marks += lines
    marks.sort()
    return marks if _consistent(marks) else []


def _consistent(marks: list[tuple[float, float]]) -> bool:
    """(observed x, canonical x) landmarks, sorted, spaced as the layout spaces them within MARKS_STRETCH."""
    if len(marks) < 2:
        return True
    obs = np.array([m[0] for m in marks])
    ref = np.array([m[1] for m in marks])
    slopes = np.diff(obs) / np.maximum(np.diff(ref), 1e-6)
    wide = np.diff(ref) > 30  # the pulse's own two strokes are too close to judge a slope by
    return not np.any(wide & (np.abs(slopes - 1.0) > MARKS_STRETCH))


def grid_period(page: np.ndarray) -> float | None:
    """The pink grid's period in px per mm from the autocorrelation of its column profile, when the 5 mm
    structure stands out clearly; None otherwise."""
    x0, y0, x1, y1 = L.GRID_BOX
    rgb = page[y0 + 10:y1 - 10, x0 + 10:x1 - 10].astype(np.int16)
    pink = ((rgb[..., 0] - rgb[..., 1]) > 6) & ((rgb[..., 0] - rgb[..., 2]) > 2) & (rgb[..., 0] > 150)
    prof = pink.mean(axis=0).astype(np.float64)
    if prof.mean() < 0.002:
        return None
    prof -= prof.mean()
    ac = np.correlate(prof, prof, mode="full")[len(prof) - 1:]
    ac /= ac[0] + 1e-12
    lo, hi = int(5 * L.PX_PER_MM * 0.85), int(5 * L.PX_PER_MM * 1.15) + 1
    k = lo + int(ac[lo:hi].argmax())
    if ac[k] < 0.25:
        return None
    return k / 5.0


def find_grid(page: np.ndarray, ink: np.ndarray | None = None) -> Grid:
    """Registration and scale of the layout on a level canonical page."""
    ink = ink_map(page) if ink is None else ink
    pulses = [p for r in range(4) if (p := _pulse(ink, r)) is not None]
    baselines = list(L.BASELINE_Y)
    for p in pulses:
        baselines[p.row] = p.foot_y
    # rows whose pulse was missed: shift by the mean offset of the rows that were found
    if pulses:
        shift = float(np.mean([p.foot_y - L.BASELINE_Y[p.row] for p in pulses]))
        found_rows = {p.row for p in pulses}
        baselines = [b if r in found_rows else L.BASELINE_Y[r] + shift for r, b in enumerate(baselines)]
    period = grid_period(page)
    heights = [p.height_px for p in pulses]
    if len(heights) >= 2 or (heights and abs(heights[0] - L.PX_PER_MV) < 0.15 * L.PX_PER_MV):
        px_per_mv, scale_source = float(np.median(heights)), "calibration"
    elif period is not None and abs(period - L.PX_PER_MM) < 0.1 * L.PX_PER_MM:
        px_per_mv, scale_source = period * L.GAIN_MM_MV, "grid"
    else:
        px_per_mv, scale_source = L.PX_PER_MV, "layout"

    seps = _separators(ink)
    idx = [i for i, s in enumerate(seps) if np.isfinite(s)]
    if len(idx) >= 2:
        # fitted against the separators' printed places, not k * 2.5 s: the middle one is printed half a
        # pixel off the time grid, which would shift t = 0 by a sixth of a pixel (half a sample)
        ref, xs = np.array([L.SEPARATOR_X[i] - L.T0_X for i in idx]), np.array([seps[i] for i in idx])
        slope, icpt = np.polyfit(ref, xs, 1)  # x = t0 + slope * canonical offset from t = 0
        px_per_s = slope * L.PX_PER_S
        t0 = icpt
        if abs(px_per_s - L.PX_PER_S) > 0.08 * L.PX_PER_S:
            px_per_s, t0, time_source = L.PX_PER_S, L.T0_X, "layout"
        else:
            time_source = "separators"
    elif len(idx) == 1:
        px_per_s = L.PX_PER_S
        t0 = seps[idx[0]] - (L.SEPARATOR_X[idx[0]] - L.T0_X)
        time_source = "separators"
    else:
        px_per_s, t0, time_source = L.PX_PER_S, L.T0_X, "layout"
    strokes = stroke_mask(ink)
    gaps = gap_separators(page, baselines)
    marks = []
    for r in range(4):
        m = [(x, (ref - L.T0_X) / L.PX_PER_S) for x, ref in row_landmarks(ink, strokes, r, baselines[r], gaps=gaps)
             if ref >= L.T0_X]
        # a row on the global time base within a pixel keeps it (a print or a scan)
        if m and max(abs(x - (t0 + t * px_per_s)) for x, t in m) <= 1.0:
            m = []
        marks.append(tuple(m))
    marks = tuple(marks)
    return Grid(baselines_y=tuple(baselines), t0_x=float(t0), px_per_s=float(px_per_s), px_per_mv=px_per_mv,
                pulses=tuple(pulses), separators_x=tuple(s for s in seps if np.isfinite(s)),
                grid_px_per_mm=period, scale_source=scale_source, time_source=time_source, row_marks=marks)
