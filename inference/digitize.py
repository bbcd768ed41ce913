"""Step 3 of reading a page: the traces on the level sheet -> 12 lead signals and the rhythm strip in mV.

Each printed row is followed as *one stroke*, column by column, with a Viterbi path over the ink runs
of every column (`trace_mask`: darkness against a paper level that a photo's blurred strokes do not
sink into): a run that touches the previous column's run continues the stroke at no cost, a jump
to a disconnected run (a deep S wave of the row above reaching down, a lead label, a grid dot, a pen)
costs its distance. The darkest pixel is never taken blindly. Columns without ink (a gap, a lead
separator) hold the last position and count as untraced.

Then the stroke's centre line is read at sub-pixel precision from its grey ink coverage (the red
channel against the paper, linear: antialiased and blurred edges carry the position), in the direction
across it: a flat column gives its ink's centroid, a peak's or a trough's column its outer edge (where
the tip's ink falls to half its own, unmoved by blur) minus half the line width (an R wave keeps its
height), and where the stroke is steep each pixel row between two such points gives the time the stroke
crosses it (a QRS slope spans dozens of rows within one or two columns). Rows where a narrow wave's up- and down-stroke merge give the two strokes' centres from the
merged segment's edges, and each monotone piece is put in order along the curve, so that the slopes of a
narrow wave do not interleave. Values are turned into mV with the grid's scale (calibration pulses),
placed at 500 Hz on the 10 s axis against the row's zero line (the calibration pulse's foot: the print's
own zero), or against the lead's flat (isoelectric) level where that lies clearly off it (a row without
a pulse, a photo's residual bend). A lead whose stroke was not found is marked, not invented.
"""

from __future__ import annotations

import cv2
import numpy as np

from inference import layout as L
from inference.grid import LOCAL_FLOOR, MIN_BLOB_PX, Grid, components, find_grid, ink_map, stroke_mask
from inference.signals import Digitized, LeadSignal

INK_THRESHOLD = 0.30
MAX_RUNS = 8  # candidate runs per column (nearest the row's zero line)
JUMP_COST = 1.0  # per pixel of gap between disconnected runs
HOLD_COST = 6.0  # per column without a usable run
BASELINE_PULL = 0.02  # per pixel away from the row's zero line (a weak prior)
SEPARATOR_HALF = 3  # columns masked either side of a lead separator
SEPARATOR_REACH = 20  # px either side of a separator (or its layout place) where a photo's line is looked for
SEPARATOR_COVER = 0.2  # share of a row pitch inked: a column of the separator's line
MAX_INTERP_GAP_PX = 10  # shorter untraced gaps are bridged linearly (about 70 ms)
MAX_ZERO_OFFSET_MV = 0.1  # a lead's flat level this far from the pulse's foot re-zeroes it
MIN_TRACED = 0.6  # a lead with less traced is marked not ok
RHYTHM_MAX_RESIDUAL = 0.6  # strip-minus-lead RMS over the lead's RMS that still names the strip
RHYTHM_MARGIN = 0.8  # ... and at most this share of the runner-up's residual
STROKE_HALF = 1.5  # px: half the printed line width (when no stroke was measured)
GREY_PAD = 2  # px beyond a run's inked pixels that hold its antialiased or blurred edge
THIN_SLACK = 1.2  # px a column's ink may exceed one stroke's width and still be a flat column
SEGMENT_FLOOR = 0.15  # grey level (of the stroke's darkest) of a row segment's pixels
MERGE_SLACK = 0.75  # px a row segment may exceed one stroke's width before it is read as two strokes
PAPER_CLOSE = 21  # px: the paper level's closing, wider than a blurred stroke
TRACE_LEVEL = 0.35  # of the local strongest darkness: a stroke pixel
FAINT_COVER = 0.8  # a photo's trace mask inking less of its rows' columns than this is retried ...
FAINT_TRACE_LEVEL = 0.25  # ... at this level (rendered photos: 0.91-1.00 at TRACE_LEVEL)
TIP_REACH = 6  # px beyond a tip's first inked pixel that its blurred edge is looked for
TIP_BODY = 6  # px inside a tip whose darkest is the tip's own darkness
MIN_CONTRAST = 20.0  # grey levels of paper minus ink below which a column's ink is not stretched to 1
# the printed lead names: px from their column's start (I-III, aVR-aVF, V1-V3, V4-V6; the strip's as I-III)
# and the band above the row's zero line they sit in (canonical page scale)
LABEL_WIDTH_PX = (22, 42, 28, 28)
LABEL_BAND_PX = (-24, -2)


def _column_runs(band: np.ndarray) -> list[np.ndarray]:
    """Per column, an (n, 2) array of [top, bottom] of its vertical ink runs."""
    on = np.pad(band, ((1, 1), (0, 0))).astype(np.int8)
    d = np.diff(on, axis=0)
    sc, sr = np.nonzero(d.T == 1)  # column-major: sorted by column, then row
    ec, er = np.nonzero(d.T == -1)
    runs = np.stack([sr, er - 1], axis=1)
    bounds = np.searchsorted(sc, np.arange(band.shape[1] + 1))
    return [runs[bounds[i]:bounds[i + 1]] for i in range(band.shape[1])]


def _forward(cols: list[np.ndarray], zero: float) -> tuple[list[list], list[tuple[list[int], list[float]]]]:
    """The Viterbi forward pass over the columns' runs: per column its candidates ((top, bottom) of each
    run, then the hold state) and (back-pointers, costs relative to the column's best). Plain Python:
    a column has a handful of candidates, where NumPy's per-call overhead would cost ten times more
    (the inner loop is written out, without `max` or `enumerate`: it runs a few million times a page)."""
    inf = float("inf")
    jump, pull, hold = JUMP_COST, BASELINE_PULL, HOLD_COST
    prev_pos: list = [(zero, zero)]  # virtual start at the zero line
    prev_cost = [0.0]
    cand: list[list] = []
    back: list[tuple[list[int], list[float]]] = []
    for col in cols:
        runs = col.tolist()
        if len(runs) > MAX_RUNS:
            runs = sorted(runs, key=lambda r: abs((r[0] + r[1]) / 2 - zero))[:MAX_RUNS]
        prev = list(zip(range(len(prev_pos)), prev_pos, prev_cost))
        costs, args = [], []
        for t, b in runs:
            best, arg = inf, 0
            for j, (pt, pb), pc in prev:
                gap = t - pb - 1  # the pixels between the two runs (0 when they touch or overlap)
                other = pt - b - 1
                if other > gap:
                    gap = other
                c = pc + jump * gap if gap > 0 else pc
                if c < best:
                    best, arg = c, j
            centre = (t + b) / 2 - zero
            costs.append(best + pull * (centre if centre >= 0 else -centre))
            args.append(arg)
        # the hold state: no run here, keep the best predecessor's position
        h = prev_cost.index(min(prev_cost))
        runs.append(prev_pos[h])
        costs.append(prev_cost[h] + hold)
        args.append(h)
        m = min(costs)
        prev_cost = [c - m for c in costs]
        prev_pos = runs
        cand.append(runs)
        back.append((args, prev_cost))
    return cand, back


def track_row(ink: np.ndarray, y_zero: float, x0: int, x1: int, masked: np.ndarray,
              up_px: float, down_px: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Follow one printed row's stroke from column x0 to x1.

    Returns per column: top and bottom (page y, NaN where held) of the chosen run, and whether the
    column's run is connected to the previous column's (continuity, used as confidence)."""
    ya = int(max(0, y_zero - up_px))
    yb = int(min(ink.shape[0], y_zero + down_px))
    band = ink[ya:yb, x0:x1] > INK_THRESHOLD if ink.dtype != bool else ink[ya:yb, x0:x1].copy()
    band[:, masked] = False
    cols = _column_runs(band)
    zero = y_zero - ya
    cand, back = _forward(cols, zero)
    # back-trace
    n = len(cols)
    tops, bots = np.full(n, np.nan), np.full(n, np.nan)
    connected = np.zeros(n, bool)
    k = back[-1][1].index(0.0) if n else 0  # costs are relative to the column's best: its first minimum
    for i in range(n - 1, -1, -1):
        held = k == len(cand[i]) - 1
        if not held:
            tops[i], bots[i] = cand[i][k]
        j = back[i][0][k]
        if not held and i > 0 and j != len(cand[i - 1]) - 1:
            pt, pb = cand[i - 1][j]
            connected[i] = cand[i][k][0] <= pb + 1 and pt <= cand[i][k][1] + 1
        k = j
    return tops + ya, bots + ya, connected


def _stroke_extent(mask: np.ndarray, tops: np.ndarray, bots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) inked row of each traced column within the span of its own and its neighbours'
    chosen runs: where a narrow wave's up- and down-stroke pass one column as separate runs, the Viterbi
    path holds only one of them, but the stroke is all of them."""
    ok = np.isfinite(tops)
    t = np.where(ok, tops, np.inf)
    b = np.where(ok, bots, -np.inf)
    lo = np.minimum(np.minimum(t, np.r_[t[1:], np.inf]), np.r_[np.inf, t[:-1]])
    hi = np.maximum(np.maximum(b, np.r_[b[1:], -np.inf]), np.r_[-np.inf, b[:-1]])
    rows = np.arange(mask.shape[0], dtype=float)[:, None]
    on = mask & (rows >= lo[None]) & (rows <= hi[None]) & ok[None]
    any_on = on.any(axis=0)
    first = np.where(any_on, on.argmax(axis=0), np.nan)
    last = np.where(any_on, mask.shape[0] - 1 - on[::-1].argmax(axis=0), np.nan)
    return np.where(ok, first, np.nan), np.where(ok, last, np.nan)


def _stroke_grey(red: np.ndarray, tops: np.ndarray, bots: np.ndarray) -> np.ndarray:
    """The followed stroke's ink coverage in [0, 1] from the page's red channel (linear, unlike the
    thresholded ink map, so antialiased and blurred edges keep the sub-pixel position): each column's
    paper level (the mean away from the stroke) against the stroke's full darkness (the darkest pixel of
    the column, a median over 31 columns: one column's may be a narrow tip's lighter ink). Returned
    twice: zero beyond the stroke's extent plus its edges (GREY_PAD px) so that grid dots and other rows'
    ink stay out, and whole (a blurred tip's edge lies further out: `_tip_edges`)."""
    red = red.astype(np.float32)
    rows = np.arange(red.shape[0], dtype=float)[:, None]
    t, b = tops[None], bots[None]  # NaN (held columns) compares False
    near = (rows >= t - GREY_PAD) & (rows <= b + GREY_PAD)
    near = cv2.dilate(near.astype(np.uint8), np.ones((1, 3), np.uint8)).astype(bool)  # a steep stroke's sides
    away = ~cv2.dilate(near.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    paper = (red * away).sum(axis=0) / np.maximum(away.sum(axis=0), 1)
    inside = (rows >= t) & (rows <= b)
    darkest = np.where(inside, red, 255.0).min(axis=0)
    contrast = np.clip(paper - darkest, 0, 255).astype(np.uint8)[None]
    contrast = cv2.medianBlur(np.ascontiguousarray(contrast), 31 if contrast.shape[1] >= 31 else 1)[0]
    cov = np.clip((paper[None] - red) / np.maximum(contrast.astype(np.float32), MIN_CONTRAST)[None], 0.0, 1.0)
    return np.where(near, cov, 0.0), cov


def _tip_edges(cov: np.ndarray, cols: np.ndarray, start: np.ndarray, step: int) -> np.ndarray:
    """The sub-pixel outer edge of narrow tips: going outward (step -1: up, +1: down) from `start` (a
    row inside the stroke) in columns `cols`, where the tip's ink falls to half its own darkness (the
    strongest within TIP_BODY rows inside). Blur (a photo's 7 px) spreads a tip's ink outward and fades
    it, but a symmetric blur keeps the half level of an edge where the edge is; a global ink threshold
    does not (a narrow tip's faint end is cut)."""
    h = cov.shape[0]
    if len(cols) == 0:
        return np.zeros(0)
    # per tip, the column's profile from outward (j = 0, TIP_REACH rows out) to inward (TIP_BODY rows in)
    j = np.arange(TIP_REACH + TIP_BODY + 1)
    rows = np.clip(start[:, None] + step * (TIP_REACH - j)[None], 0, h - 1)
    prof = cov[rows, cols[:, None]]
    body = prof[:, TIP_REACH:].max(axis=1)
    inner = TIP_REACH + prof[:, TIP_REACH:].argmax(axis=1)
    half = body / 2
    # the outermost crossing of half the body's ink between the body and outside
    below = (prof < half[:, None]) & (j[None] < inner[:, None])
    found = below.any(axis=1)
    jc = np.where(found, j[-1] - np.argmax(below[:, ::-1], axis=1), 0)  # the last row under half
    k = np.arange(len(cols))
    lo, hi = prof[k, jc], prof[k, np.minimum(jc + 1, j[-1])]
    frac = np.where(found, np.clip((half - lo) / np.maximum(hi - lo, 1e-6), 0, 1), 0.0)
    return start + step * (TIP_REACH - (jc + frac))


def column_points(grey: np.ndarray, tops: np.ndarray, bots: np.ndarray, cov: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, float, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(x and y per column, NaN where the column gives none; the stroke's width; the row segments) from
    the grey ink.

    A flat column (its ink no taller than one stroke, with some slack for a gentle slope) gives its ink's
    centroid. A taller column gives a point only at a turning point: at a peak (its upper edge higher than
    both neighbours': an R wave's tip) the edge plus half a stroke width, at a trough the lower edge minus
    it; elsewhere the stroke is steep and the rows time it (`row_points`). Which columns are turning
    points is told by their sub-pixel edges (the grey ink within two pixels outside a run's first inked
    pixel is the edge's partial coverage); the tip's own edge by `_tip_edges` from `cov`, the whole grey
    ink. A turning point's x is that of the row segment through it (a narrow tip lies anywhere within
    its column)."""
    h, n = grey.shape
    ok = np.isfinite(tops)
    t = np.where(ok, tops, 0).astype(int)
    b = np.where(ok, bots, 0).astype(int)
    c0 = np.vstack([np.zeros((1, n)), np.cumsum(grey, axis=0)])  # c0[k] = sum of rows < k
    c1 = np.vstack([np.zeros((1, n)), np.cumsum(grey * np.arange(h)[:, None], axis=0)])
    cols = np.arange(n)

    def s(a, k):
        return a[np.clip(k, 0, h), cols]

    mass = s(c0, b + 3) - s(c0, t - 2)
    centroid = (s(c1, b + 3) - s(c1, t - 2)) / np.maximum(mass, 1e-6)
    upper = t + 0.5 - (s(c0, t + 1) - s(c0, t - 2))
    lower = b - 0.5 + (s(c0, b + 3) - s(c0, b))
    column_width = float(np.median(mass[ok])) if ok.any() else 2 * STROKE_HALF
    inf = np.inf
    up = np.where(ok, upper, inf)
    lo = np.where(ok, lower, -inf)
    flat = ok & (mass <= column_width + THIN_SLACK)
    peak = ok & ~flat & (up <= np.r_[inf, up[:-1]]) & (up <= np.r_[up[1:], inf])
    trough = ok & ~flat & ~peak & (lo >= np.r_[-inf, lo[:-1]]) & (lo >= np.r_[lo[1:], -inf])
    segments, width = _row_segments(grey, column_width)
    # a tip's centre lies half the printed line inside its edge; blur widens the measured line, not that
    half = min(width, 2 * STROKE_HALF) / 2
    pk, tr = np.where(peak)[0], np.where(trough)[0]
    y = np.where(flat, centroid, np.nan)
    y[pk] = _tip_edges(cov, pk, t[pk], -1) + half
    y[tr] = _tip_edges(cov, tr, b[tr], 1) - half
    x = cols.astype(float)
    turn = np.where(peak | trough)[0]
    if len(turn) and len(segments[0]):
        tip_x, dist = _nearest(np.round(y[turn]), x[turn], segments[0], (segments[1] + segments[2]) / 2)
        x[turn] = np.where(dist <= 1.0, np.clip(tip_x, turn - 0.5, turn + 0.5), x[turn])
    return x, y, width, segments


def _row_segments(grey: np.ndarray, column_width: float) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], float]:
    """The stroke's candidate centres in every pixel row, sorted by row then x: (row, x, x) of a
    horizontal ink segment no wider than one stroke (its centroid), (row, left, right) of a wider one:
    the centres of the strokes at its two ends, its sub-pixel edges -/+ half a stroke (the up- and the
    down-stroke of a narrow wave merged, or a steep stroke running into a flat one in that row).

    And the line's width: the median ink of the short segments (a steep stroke's cross-sections; flat
    parts make long ones). A flat column's ink is wider (JPEG and antialiasing blur a flat stroke's
    edges more), so that one only says which columns are flat; this one is how far a tip's edge lies
    outside its centre."""
    h, n = grey.shape
    on = grey > SEGMENT_FLOOR
    d = np.diff(np.pad(on, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    rs, xs = np.nonzero(d == 1)  # row-major: sorted by row, then column
    _, xe = np.nonzero(d == -1)
    zero = np.zeros((h, 1), np.float32)
    c0 = np.hstack([zero, np.cumsum(grey, axis=1)])
    c1 = np.hstack([zero, np.cumsum(grey * np.arange(n)[None], axis=1)])
    mass = c0[rs, xe] - c0[rs, xs]
    centre = (c1[rs, xe] - c1[rs, xs]) / np.maximum(mass, 1e-6)
    # an edge's partial coverage lies in the segment's outer two pixels (the second is usually full)
    left = xs + 1.5 - (c0[rs, np.minimum(xs + 2, xe)] - c0[rs, xs])
    right = xe - 2.5 + (c0[rs, xe] - c0[rs, np.maximum(xe - 2, xs)])
    short = mass[(mass > 1.0) & (mass < column_width + 0.3)]
    width = float(np.median(short)) if len(short) >= 20 else column_width
    wide = mass > width + MERGE_SLACK
    return (rs, np.where(wide, left + width / 2, centre), np.where(wide, right - width / 2, centre)), width


def _nearest(rows: np.ndarray, xs: np.ndarray, c_row: np.ndarray, c_x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each (row, x) query, the candidate x nearest it in the same row, and its distance (inf: none).
    The candidates must be sorted by row, then x."""
    span = float(max(np.max(c_x, initial=0), np.max(xs, initial=0))) + 10.0
    keys = c_row * span + c_x
    k = np.searchsorted(keys, rows * span + xs)
    left, right = np.clip(k - 1, 0, len(keys) - 1), np.clip(k, 0, len(keys) - 1)
    dl = np.where(c_row[left] == rows, np.abs(c_x[left] - xs), np.inf)
    dr = np.where(c_row[right] == rows, np.abs(c_x[right] - xs), np.inf)
    pick = np.where(dl <= dr, left, right)
    return c_x[pick], np.minimum(dl, dr)


def row_points(segments: tuple[np.ndarray, np.ndarray, np.ndarray], col_x: np.ndarray, col_y: np.ndarray,
               traced: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of the steep parts, between each two consecutive column points (`column_points`) that are
    far apart in height: one point per pixel row in between, the stroke's centre in that row (of the
    candidates of `_row_segments`, the one nearest the straight line between the two). Along one such
    piece the signal is monotone, so its xs (sorted) are paired with its ys sorted the same way: the
    points follow the stroke in order, and a point's x noise cannot fold the curve back on itself."""
    ci = np.where(np.isfinite(col_y))[0]
    if len(ci) < 2:
        return np.zeros(0), np.zeros(0)
    cx, cy = col_x[ci], col_y[ci]
    holes = np.cumsum(~traced)
    xp, xq, yp, yq = cx[:-1], cx[1:], cy[:-1], cy[1:]
    lo = np.floor(np.minimum(yp, yq)).astype(int) + 1
    hi = np.ceil(np.maximum(yp, yq)).astype(int) - 1
    steep = (holes[ci[1:]] == holes[ci[:-1]]) & (np.abs(yq - yp) >= 2) & (np.abs(yq - yp) > xq - xp) & (hi >= lo)
    if not steep.any():
        return np.zeros(0), np.zeros(0)
    xp, xq, yp, yq, lo, hi = xp[steep], xq[steep], yp[steep], yq[steep], lo[steep], hi[steep]
    counts = hi - lo + 1
    piece = np.repeat(np.arange(len(xp)), counts)
    row = lo[piece] + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    x_line = xp[piece] + (row - yp[piece]) / (yq[piece] - yp[piece]) * (xq[piece] - xp[piece])
    # the candidate nearest the line in the same row
    seg_row, seg_a, seg_b = segments
    c_row = np.repeat(seg_row, 2)
    c_x = np.stack([seg_a, seg_b], axis=1).ravel()
    order = np.lexsort((c_x, c_row))
    x, dist = _nearest(row, x_line, c_row[order], c_x[order])
    good = (dist < np.inf) & (x >= xp[piece] - 1) & (x <= xq[piece] + 1)
    piece, row = piece[good], row[good].astype(float)
    x = np.clip(x[good], xp[piece], xq[piece])
    # monotone pairing within each piece: x ascending with y in the piece's direction
    rising = np.sign(yq - yp)[piece]
    x = x[np.lexsort((x, piece))]
    y = row[np.lexsort((row * rising, piece))]
    return x, y


def _bridge_short_gaps(y: np.ndarray, max_gap: int) -> np.ndarray:
    """Linear interpolation over NaN runs no longer than max_gap samples with finite ends."""
    y = y.copy()
    bad = ~np.isfinite(y)
    if not bad.any() or bad.all():
        return y
    edges = np.diff(np.r_[0, bad.astype(np.int8), 0])
    for s, e in zip(np.where(edges == 1)[0], np.where(edges == -1)[0]):
        if s > 0 and e < len(y) and e - s <= max_gap:
            y[s:e] = np.linspace(y[s - 1], y[e], e - s + 2)[1:-1]
    return y


def isoelectric_level(x: np.ndarray) -> float:
    """The flat level of a lead: the most frequent value (TP and PR segments dominate a beat)."""
    v = x[np.isfinite(x)]
    if len(v) == 0:
        return 0.0
    lo, hi = np.percentile(v, [2, 98])
    if hi - lo < 1e-6:
        return float(np.median(v))
    bins = np.arange(lo, hi + 0.02, 0.01)
    hist, edges = np.histogram(v, bins=bins)
    hist = np.convolve(hist, np.ones(5) / 5, mode="same")
    k = int(hist.argmax())
    return float((edges[k] + edges[k + 1]) / 2)


def _lead_signal(name: str, start_s: float, values: np.ndarray, traced: np.ndarray, conf: float,
                 level_row: bool) -> LeadSignal:
    """`level_row`: the row lies on the page's global time base, so the sheet is taken as level there and
    the pulse's foot as the lead's zero unless its flat level is clearly off it; on a bent row (a photo's
    residual warp moves the zero line along the row) the lead's own flat level is its zero."""
    frac = float(traced.mean()) if len(traced) else 0.0
    ok = frac >= MIN_TRACED and np.isfinite(values).sum() > 0.5 * len(values)
    if ok:
        level = isoelectric_level(values)
        if not level_row or abs(level) > MAX_ZERO_OFFSET_MV:
            values = values - level
    else:
        values = np.full(len(values), np.nan, np.float32)
    return LeadSignal(name=name, start_s=start_s, signal=values.astype(np.float32), traced_fraction=frac,
                      confidence=float(conf), ok=bool(ok))


def _below_labels(tops: np.ndarray, bots: np.ndarray, xs: np.ndarray, starts: list[float], zero: float,
                  scale: float) -> np.ndarray:
    """A photo's run tops with the printed lead names cut off.

    On a scan the name is a run of its own that the path does not take. On a photo the letters, a
    pixel or two above the flat stroke, blur into it: the column's run reaches up into the name and
    its centre follows the letters (a 0.3 mV bump at every lead's start, counted as a beat). So under
    a name a run whose top lies in the name's band keeps only its lowest stroke width: the stroke lies
    under the name. A wave taller than the name is left alone (its run reaches above the band); a
    small steep wave under the name loses its upper part, the price of not tracing letters."""
    h = bots - tops + 1
    if not np.isfinite(h).any():
        return tops
    width = float(np.nanmedian(h))  # most columns are flat: one stroke's width
    band_top, band_bottom = zero + LABEL_BAND_PX[0] * scale, zero + LABEL_BAND_PX[1] * scale
    out = tops.copy()
    for c, xc in enumerate(starts[: len(LABEL_WIDTH_PX)]):
        idx = np.nonzero((xs >= xc - 2 * scale) & (xs <= xc + LABEL_WIDTH_PX[c] * scale))[0]
        if len(idx) == 0:
            continue
        t, b = tops[idx], bots[idx]
        with np.errstate(invalid="ignore"):
            fused = (t < band_bottom) & (t >= band_top - 2 * scale) & (b - t + 1 > width)
        out[idx[fused]] = b[fused] - width + 1
    return out


def _separator_blur(mask: np.ndarray, xs: np.ndarray, seps, zero: float, pitch: float) -> np.ndarray:
    """The columns of a photo's blurred separator line: within SEPARATOR_REACH of a separator, those
    inked over SEPARATOR_COVER of a row pitch (a vertical line; the stroke beside it would be followed
    up that line, a 3 mV spike at the lead's end)."""
    ya, yb = int(max(0, zero - pitch / 2)), int(min(mask.shape[0], zero + pitch / 2))
    out = np.zeros(len(xs), bool)
    for s in seps:
        for k in np.nonzero(np.abs(xs - s) <= SEPARATOR_REACH)[0]:
            out[k] = mask[ya:yb, int(xs[k])].mean() >= SEPARATOR_COVER
    return out


def _row_signal(red: np.ndarray, mask: np.ndarray, grid: Grid, row: int, photo: bool = False
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(10 s signal in mV at FS before zeroing, traced flag per sample, connected flag per sample) from
    the page's red channel and the stroke mask (on a photo, with the lead names cut off the stroke)."""
    x0 = int(round(grid.t0_x))
    x1 = int(round(grid.x_of(L.DURATION_S))) + 1
    x1 = min(x1, mask.shape[1] - 1)
    xs = np.arange(x0, x1)
    masked = np.zeros(len(xs), bool)
    if row < 3:
        # the separators found, and the layout's place of any not found (a faint line is still ink)
        # (on a photo, a row's own separator marks first: the page's x may bend between the rows)
        own = [x for x, t in grid.row_marks[row] if any(abs(t - (k + 1) * L.SEGMENT_S) < 1e-6 for k in range(3))]
        found = own + [f for f in grid.separators_x if all(abs(f - o) > 2 * SEPARATOR_REACH for o in own)]
        expected = [float(grid.x_of((k + 1) * L.SEGMENT_S)) for k in range(3)]
        seps = found + [e for e in expected if all(abs(e - f) > 2 * SEPARATOR_REACH for f in found)]
        for s in seps:
            masked |= np.abs(xs - s) <= SEPARATOR_HALF
    pitch = L.ROW_PITCH * grid.px_per_mv / L.PX_PER_MV
    if row < 3 and photo:
        masked |= _separator_blur(mask, xs, seps, grid.baselines_y[row], pitch)
    tops, bots, conn = track_row(mask, grid.baselines_y[row], x0, x1, masked, up_px=0.85 * pitch, down_px=0.75 * pitch)
    traced_cols = np.isfinite(tops)
    px, py = np.zeros(0), np.zeros(0)
    if traced_cols.any():
        ya = int(max(0, np.nanmin(tops) - TIP_REACH - 1))
        yb = int(min(mask.shape[0], np.nanmax(bots) + TIP_REACH + 2))
        top, bot = _stroke_extent(mask[ya:yb, x0:x1], tops - ya, bots - ya)
        if photo:
            starts = [grid.t0_x] + (list(seps) if row < 3 else [])
            top = _below_labels(top, bot, xs, starts, grid.baselines_y[row] - ya, grid.px_per_mv / L.PX_PER_MV)
        grey, cov = _stroke_grey(red[ya:yb, x0:x1], top, bot)
        col_x, col_y, width, segments = column_points(grey, top, bot, cov)
        rx, ry = row_points(segments, col_x, col_y, traced_cols)
        has = np.isfinite(col_y)
        px = np.r_[col_x[has], rx]
        py = np.r_[col_y[has], ry] + ya
        order = np.argsort(px, kind="stable")
        px, py = px[order], py[order]
    n = int(round(L.DURATION_S * L.FS))
    t = np.arange(n) / L.FS
    col_t = grid.time_of(row, px + x0)
    good = np.isfinite(py)
    y = np.full(n, np.nan)
    if good.sum() >= 2:
        y = np.interp(t, col_t[good], py[good], left=np.nan, right=np.nan)
        # NaN where the nearest column was untraced
        cols_t = grid.time_of(row, xs.astype(float))
        col_of_t = np.clip(np.searchsorted(cols_t, t), 0, len(tops) - 1)
        untraced = ~np.isfinite(tops)
        gap_cols = _bridge_short_gaps(np.where(untraced, np.nan, 0.0), MAX_INTERP_GAP_PX)
        y[~np.isfinite(gap_cols[col_of_t])] = np.nan
    else:
        col_of_t = np.zeros(n, int)
    mv = (grid.baselines_y[row] - y) / grid.px_per_mv
    traced = np.isfinite(tops)[col_of_t]
    connected = conn[col_of_t]
    return mv.astype(np.float32), traced, connected


def rhythm_label(d_leads: dict[str, LeadSignal], rhythm: np.ndarray) -> str | None:
    """Which lead the strip shows. The rows are printed in sync, so in each lead's 2.5 s window the
    strip equals that lead, amplitude included: the lead whose window differs least from the strip
    (RMS of the difference against the lead's own RMS) names it, when that residual is small and
    clearly below the runner-up's (II and III share a window and often a shape); else None."""
    scores: list[tuple[float, str]] = []
    for name, lead in d_leads.items():
        if not lead.ok:
            continue
        i0 = int(round(lead.start_s * L.FS))
        a = rhythm[i0:i0 + len(lead.signal)]
        b = lead.signal[: len(a)]
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.sum() < 0.5 * len(b) or np.std(a[ok]) < 1e-3 or np.std(b[ok]) < 1e-3:
            continue
        diff = (a[ok] - a[ok].mean()) - (b[ok] - b[ok].mean())
        scores.append((float(np.sqrt(np.mean(diff ** 2)) / np.std(b[ok])), name))
    scores.sort()
    if not scores or scores[0][0] > RHYTHM_MAX_RESIDUAL:
        return None
    if len(scores) > 1 and scores[0][0] > RHYTHM_MARGIN * scores[1][0]:
        return None
    return scores[0][1]


LABEL_BOX = (108, 133, -21, -2)  # x0, x1, dy0, dy1 of a row's printed lead name, from its zero line


def _label_crop(ink: np.ndarray, x_shift: float, y_zero: float, pad: int = 0) -> np.ndarray:
    x0, x1, dy0, dy1 = LABEL_BOX
    xa, ya = int(round(x0 + x_shift)) - pad, int(round(y_zero + dy0)) - pad
    return ink[max(0, ya):ya + (dy1 - dy0) + 2 * pad, max(0, xa):xa + (x1 - x0) + 2 * pad].astype(np.float32)


def printed_rhythm_label(ink: np.ndarray, grid: Grid) -> str | None:
    """The strip's printed name, read by matching it against the names printed at the start of the
    three rows above it (I, II, III, the same font on the same page); None when none matches clearly
    (a strip of another lead: the signal decides then)."""
    import cv2

    shift = grid.t0_x - L.T0_X
    strip = _label_crop(ink, shift, grid.baselines_y[3])
    if strip.size == 0 or strip.max() < 0.3:
        return None
    scores = []
    for r in range(3):
        ref = _label_crop(ink, shift, grid.baselines_y[r], pad=3)
        if ref.shape[0] < strip.shape[0] or ref.shape[1] < strip.shape[1] or ref.max() < 0.3:
            continue
        scores.append((float(cv2.matchTemplate(ref, strip, cv2.TM_CCOEFF_NORMED).max()), L.ROWS[r][0]))
    scores.sort(reverse=True)
    if not scores or scores[0][0] < 0.75 or (len(scores) > 1 and scores[0][0] - scores[1][0] < 0.08):
        return None
    return scores[0][1]


def _max_pool4(x: np.ndarray) -> np.ndarray:
    """The maximum of each 4 x 4 block (a partial block at the bottom or right end dropped): four
    strided maxima down, then four across (a reshape's max over two axes costs thirty times as much)."""
    hq, wq = x.shape[0] // 4, x.shape[1] // 4
    rows = np.maximum(np.maximum(x[0:4 * hq:4, :4 * wq], x[1:4 * hq:4, :4 * wq]),
                      np.maximum(x[2:4 * hq:4, :4 * wq], x[3:4 * hq:4, :4 * wq]))
    return np.maximum(np.maximum(rows[:, 0::4], rows[:, 1::4]), np.maximum(rows[:, 2::4], rows[:, 3::4]))


def trace_mask(red: np.ndarray, level: float = TRACE_LEVEL) -> np.ndarray:
    """The stroke pixels to follow, from the red channel (the pink grid is bright in it): darkness
    against the paper, relative to the strongest darkness around (a photo's glare fades its ink), at
    `level` of it, without specks (grid dots, noise: blobs under MIN_BLOB_PX).

    Unlike `grid.ink_map`, whose paper level (a 9 px closing) sinks into a blurred photo's 8-10 px wide
    strokes, the paper here is a closing wider than any blurred stroke: else a narrow R wave's foot,
    lighter than the flat strokes beside it, drops out and the wave is cut off from the trace."""
    red = np.ascontiguousarray(red)
    h, w = red.shape
    paper = cv2.blur(cv2.morphologyEx(red, cv2.MORPH_CLOSE, np.ones((PAPER_CLOSE, PAPER_CLOSE), np.uint8)), (15, 15))
    dark = np.clip(1.0 - red.astype(np.float32) / np.maximum(paper.astype(np.float32), 1.0), 0.0, 1.0)
    # the strongest darkness within about a row pitch up and down and 1 cm across, found on a 4x
    # max-pooled copy (a full-size dilation this large costs more than the whole tracking)
    pooled = _max_pool4(dark)
    near = cv2.blur(cv2.dilate(pooled, np.ones((55, 15), np.uint8)), (8, 8))
    near = cv2.resize(near, (w, h), interpolation=cv2.INTER_LINEAR)
    on = (dark > level * np.clip(near, LOCAL_FLOOR, 1.0)).astype(np.uint8)
    n, lab, stats = components(on)
    keep = stats[:, cv2.CC_STAT_AREA] >= MIN_BLOB_PX
    keep[0] = False
    return keep[lab]


def _row_cover(mask: np.ndarray, grid: Grid) -> float:
    """The share of the rows' columns (t = 0-10 s) with any stroke pixel within 0.7 mV of the zero line."""
    x0, x1 = int(round(grid.t0_x)), int(round(grid.x_of(L.DURATION_S)))
    reach = int(0.7 * grid.px_per_mv)
    cover = [mask[max(0, int(y) - reach):max(0, int(y) + reach), max(0, x0):x1].any(axis=0).mean()
             for y in grid.baselines_y]
    return float(np.mean(cover))


def digitize(page: np.ndarray, grid: Grid | None = None, ink: np.ndarray | None = None,
             photo: bool = False, strokes: np.ndarray | None = None) -> Digitized:
    """The 12 leads and the rhythm strip of a level canonical page (`photo`: rectified from a photo;
    `strokes`: its `trace_mask` when the caller has made it already)."""
    ink = ink_map(page) if ink is None else ink
    grid = find_grid(page, ink) if grid is None else grid
    red = page[..., 0] if page.ndim == 3 else page
    mask = trace_mask(red) if strokes is None else strokes
    cover = _row_cover(mask, grid) if photo else 1.0
    if cover < FAINT_COVER:
        # a faint photo (thin grey strokes, blurred): its flat stretches fall under TRACE_LEVEL of the
        # QRS's darkness; followed at a lower level when that inks clearly more of the rows
        faint = trace_mask(red, FAINT_TRACE_LEVEL)
        if _row_cover(faint, grid) > cover + 0.1:
            mask = faint
    seg_n = int(round(L.SEGMENT_S * L.FS))
    leads: dict[str, LeadSignal] = {}
    rhythm = None
    for row in range(4):
        mv, traced, connected = _row_signal(red, mask, grid, row, photo)
        if row == L.RHYTHM_ROW:
            conf = float(connected[traced].mean()) if traced.any() else 0.0
            rhythm = _lead_signal("rhythm", 0.0, mv, traced, conf, not grid.row_marks[row])
            continue
        for c, name in enumerate(L.ROWS[row]):
            sl = slice(c * seg_n, (c + 1) * seg_n)
            tr = traced[sl]
            conf = float(connected[sl][tr].mean()) if tr.any() else 0.0
            leads[name] = _lead_signal(name, c * L.SEGMENT_S, mv[sl].copy(), tr, conf, not grid.row_marks[row])
    assert rhythm is not None
    ordered = {name: leads[name] for name in L.LEADS}
    label = printed_rhythm_label(stroke_mask(ink), grid)
    if label is None and rhythm.ok:
        label = rhythm_label(ordered, rhythm.signal)
    return Digitized(leads=ordered, rhythm=rhythm, rhythm_lead=label, px_per_mv=grid.px_per_mv,
                     px_per_s=grid.px_per_s, scale_source=grid.scale_source)
