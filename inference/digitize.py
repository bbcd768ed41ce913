"""Step 3 of reading a page: the traces on the level sheet -> 12 lead signals and the rhythm strip in mV.

Each printed row is followed as *one stroke*, column by column, with a Viterbi path over the ink runs
of every column: a run that touches the previous column's run continues the stroke at no cost, a jump
to a disconnected run (a deep S wave of the row above reaching down, a lead label, a grid dot, a pen)
costs its distance. The darkest pixel is never taken blindly. Columns without ink (a gap, a lead
separator) hold the last position and count as untraced.

Within a column the stroke spans [top, bottom]; the signal there is the top at a peak, the bottom at
a trough and the entry/exit ends on a slope, so narrow R waves keep their height. Values are turned
into mV with the grid's scale (calibration pulses), placed at 500 Hz on the 10 s axis and referred to
the lead's flat (isoelectric) level. A lead whose stroke was not found is marked, not invented.
"""

from __future__ import annotations

import numpy as np

from inference import layout as L
from inference.grid import Grid, find_grid, ink_map, stroke_mask
from inference.signals import Digitized, LeadSignal

INK_THRESHOLD = 0.30
MAX_RUNS = 8  # candidate runs per column (nearest the row's zero line)
JUMP_COST = 1.0  # per pixel of gap between disconnected runs
HOLD_COST = 6.0  # per column without a usable run
BASELINE_PULL = 0.02  # per pixel away from the row's zero line (a weak prior)
SEPARATOR_HALF = 3  # columns masked either side of a lead separator
MAX_INTERP_GAP_PX = 10  # shorter untraced gaps are bridged linearly (about 70 ms)
MIN_TRACED = 0.6  # a lead with less traced is marked not ok
RHYTHM_MAX_RESIDUAL = 0.6  # strip-minus-lead RMS over the lead's RMS that still names the strip
RHYTHM_MARGIN = 0.8  # ... and at most this share of the runner-up's residual
STROKE_HALF = 1.5  # px: half the printed line width
STEEP_RUN_PX = 8  # a column run longer than this is a steep slope (see steep_samples)
SEGMENT_REACH = 8  # px either side searched for a steep stroke's horizontal segment
MAX_SEGMENT_PX = 7  # a horizontal segment wider than this is not a steep stroke's cross-section


def _column_runs(band: np.ndarray) -> list[np.ndarray]:
    """Per column, an (n, 2) array of [top, bottom] of its vertical ink runs."""
    on = np.pad(band, ((1, 1), (0, 0))).astype(np.int8)
    d = np.diff(on, axis=0)
    sc, sr = np.nonzero(d.T == 1)  # column-major: sorted by column, then row
    ec, er = np.nonzero(d.T == -1)
    runs = np.stack([sr, er - 1], axis=1)
    bounds = np.searchsorted(sc, np.arange(band.shape[1] + 1))
    return [runs[bounds[i]:bounds[i + 1]] for i in range(band.shape[1])]


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
    n = len(cols)
    # forward pass: cost, back-pointer and (top, bottom) of every candidate of every column
    cand: list[np.ndarray] = []
    back: list[np.ndarray] = []
    prev_pos = np.array([[zero, zero]], float)  # virtual start at the zero line
    prev_cost = np.array([0.0])
    for i in range(n):
        runs = cols[i].astype(float)
        if len(runs) > MAX_RUNS:
            centre = runs.mean(axis=1)
            runs = runs[np.argsort(np.abs(centre - zero))[:MAX_RUNS]]
        if len(runs):
            gap = np.maximum(0.0, np.maximum(runs[None, :, 0] - prev_pos[:, None, 1] - 1,
                                             prev_pos[:, None, 0] - runs[None, :, 1] - 1))
            total = prev_cost[:, None] + JUMP_COST * gap
            arg = total.argmin(axis=0)
            cost = total[arg, np.arange(len(runs))] + BASELINE_PULL * np.abs(runs.mean(axis=1) - zero)
        else:
            arg, cost = np.zeros(0, int), np.zeros(0)
        # the hold state: no run here, keep the best predecessor's position
        h = int(prev_cost.argmin())
        pos = np.vstack([runs, prev_pos[h:h + 1]]) if len(runs) else prev_pos[h:h + 1].copy()
        cost = np.append(cost, prev_cost[h] + HOLD_COST)
        arg = np.append(arg, h)
        cand.append(pos)
        back.append(arg)
        prev_pos, prev_cost = pos, cost - cost.min()
    # back-trace
    tops, bots = np.full(n, np.nan), np.full(n, np.nan)
    connected = np.zeros(n, bool)
    k = int(prev_cost.argmin())
    for i in range(n - 1, -1, -1):
        held = k == len(cand[i]) - 1
        if not held:
            tops[i], bots[i] = cand[i][k]
        j = int(back[i][k])
        if not held and i > 0 and j != len(cand[i - 1]) - 1:
            pt, pb = cand[i - 1][j]
            connected[i] = cand[i][k][0] <= pb + 1 and pt <= cand[i][k][1] + 1
        k = j
    return tops + ya, bots + ya, connected


def column_samples(tops: np.ndarray, bots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of the stroke in each column. Where the run is no taller than the stroke, its centre.
    Where it is taller (the signal moved within the column), the stroke's upper edge at a peak of
    that edge (a local minimum of the run tops: an R wave's tip, even when the up- and down-strokes
    overlap in several columns), its lower edge at a trough, and otherwise the centre (slopes get
    their times from `steep_samples`)."""
    top = tops + STROKE_HALF
    bot = bots - STROKE_HALF
    mid = (tops + bots) / 2
    thin = top >= bot
    inf = np.inf

    def nb(a, k, fill):
        a = np.where(np.isfinite(a), a, fill)
        return np.r_[np.full(k, fill), a[:-k]], np.r_[a[k:], np.full(k, fill)]

    t1, t2 = nb(tops, 1, inf)
    b1, b2 = nb(bots, 1, -inf)
    peak = ~thin & (tops <= t1) & (tops <= t2)
    trough = ~thin & (bots >= b1) & (bots >= b2) & ~peak
    y = np.where(peak, top, np.where(trough, bot, mid))
    return np.arange(len(tops), dtype=float), y


def steep_samples(mask: np.ndarray, tops: np.ndarray, bots: np.ndarray, x0: int) -> tuple[np.ndarray, np.ndarray]:
    """Extra (x, y) points where the stroke is steep (a QRS slope): there a column's run spans the
    stroke's whole rise, so the column gives the wrong time; each pixel row of the run gives the right
    one instead, as the centre of the short horizontal ink segment it belongs to."""
    steep = np.where(np.isfinite(tops) & (bots - tops > STEEP_RUN_PX))[0]
    if len(steep) == 0:
        return np.zeros(0), np.zeros(0)
    xs_all, ys_all = [], []
    w = mask.shape[1]
    for i in steep:
        xa, xb = max(0, x0 + i - SEGMENT_REACH), min(w, x0 + i + SEGMENT_REACH + 1)
        ya, yb = int(tops[i]), int(bots[i]) + 1
        win = mask[ya:yb, xa:xb]
        c = x0 + i - xa
        if not win[:, c].any():
            continue
        # per pixel row: the horizontal ink run through column c, its ends found by scanning out
        left = np.where(~win[:, :c + 1][:, ::-1], np.arange(c + 1)[None, :], c + 1).min(axis=1)
        right = np.where(~win[:, c:], np.arange(win.shape[1] - c)[None, :], win.shape[1] - c).min(axis=1)
        on = win[:, c] & (left + right - 1 <= MAX_SEGMENT_PX)
        centre = c + (right - left) / 2.0
        xs_all.append(xa + centre[on] - x0)
        ys_all.append(np.arange(ya, yb)[on].astype(float))
    if not xs_all:
        return np.zeros(0), np.zeros(0)
    xs, ys = np.concatenate(xs_all), np.concatenate(ys_all)
    key = np.unique(np.round(np.c_[xs * 4, ys]).astype(np.int64), axis=0, return_index=True)[1]
    return xs[key], ys[key]


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


def _lead_signal(name: str, start_s: float, values: np.ndarray, traced: np.ndarray, conf: float) -> LeadSignal:
    frac = float(traced.mean()) if len(traced) else 0.0
    ok = frac >= MIN_TRACED and np.isfinite(values).sum() > 0.5 * len(values)
    if ok:
        values = values - isoelectric_level(values)
    else:
        values = np.full(len(values), np.nan, np.float32)
    return LeadSignal(name=name, start_s=start_s, signal=values.astype(np.float32), traced_fraction=frac,
                      confidence=float(conf), ok=bool(ok))


def _row_signal(ink: np.ndarray, grid: Grid, row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(10 s signal in mV at FS before zeroing, traced flag per sample, connected flag per sample)."""
    x0 = int(round(grid.t0_x))
    x1 = int(round(grid.x_of(L.DURATION_S))) + 1
    x1 = min(x1, ink.shape[1] - 1)
    xs = np.arange(x0, x1)
    masked = np.zeros(len(xs), bool)
    if row < 3:
        seps = grid.separators_x or tuple(grid.x_of((k + 1) * L.SEGMENT_S) for k in range(3))
        for s in seps:
            masked |= np.abs(xs - s) <= SEPARATOR_HALF
    pitch = L.ROW_PITCH * grid.px_per_mv / L.PX_PER_MV
    tops, bots, conn = track_row(ink, grid.baselines_y[row], x0, x1, masked, up_px=0.85 * pitch, down_px=0.75 * pitch)
    px, py = column_samples(tops, bots)
    sx, sy = steep_samples(ink, tops, bots, x0)
    if len(sx):
        steep = np.isin(np.arange(len(px)), np.where(bots - tops > STEEP_RUN_PX)[0])
        mid = (tops + bots) / 2
        extreme = np.abs(py - mid) > 0.5  # a tip or a trough, kept: the slope points don't reach it
        keep = ~steep | extreme
        px = np.r_[px[keep], sx]
        py = np.r_[py[keep], sy]
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


def digitize(page: np.ndarray, grid: Grid | None = None, ink: np.ndarray | None = None) -> Digitized:
    """The 12 leads and the rhythm strip of a level canonical page."""
    ink = ink_map(page) if ink is None else ink
    grid = find_grid(page, ink) if grid is None else grid
    ink = stroke_mask(ink)
    seg_n = int(round(L.SEGMENT_S * L.FS))
    leads: dict[str, LeadSignal] = {}
    rhythm = None
    for row in range(4):
        mv, traced, connected = _row_signal(ink, grid, row)
        if row == L.RHYTHM_ROW:
            conf = float(connected[traced].mean()) if traced.any() else 0.0
            rhythm = _lead_signal("rhythm", 0.0, mv, traced, conf)
            continue
        for c, name in enumerate(L.ROWS[row]):
            sl = slice(c * seg_n, (c + 1) * seg_n)
            tr = traced[sl]
            conf = float(connected[sl][tr].mean()) if tr.any() else 0.0
            leads[name] = _lead_signal(name, c * L.SEGMENT_S, mv[sl].copy(), tr, conf)
    assert rhythm is not None
    ordered = {name: leads[name] for name in L.LEADS}
    label = printed_rhythm_label(ink, grid)
    if label is None and rhythm.ok:
        label = rhythm_label(ordered, rhythm.signal)
    return Digitized(leads=ordered, rhythm=rhythm, rhythm_lead=label, px_per_mv=grid.px_per_mv,
                     px_per_s=grid.px_per_s, scale_source=grid.scale_source)
