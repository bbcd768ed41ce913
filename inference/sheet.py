"""Step 1 of reading a page: find the printout in a picture and rectify it to the canonical page.

A scan or a screenshot that already *is* the page goes through unchanged (the same array). A photo —
the sheet on a desk or a bed, in perspective, turned any way, a little curled — is rectified in three
passes, all with OpenCV (a maintained library; contours, homographies and remapping are what it is
for and are ten to a hundred times faster than the same in NumPy):

1. **Candidates for the sheet's outline**: the paper against its background (bright and unsaturated
   relative to the picture, by Otsu), the strongest closed edge contour, and the page's long ink
   strokes (trace rows, separators, the header's rule, a shadowed paper edge: on a white bed sheet or
   a light desk they are what tells the page from its background), and the thin red rectangle printed
   round the grid (`_grid_box_quads`: straight, four-sided, at a known place on the page; it registers
   a tilted page whose paper edge is lost against a light cloth). Each gives a quadrilateral,
   tried in the two orientations its long side allows; a small warp of each is scored by the
   printout's own structure (four trace rows on their zero lines, little ink between them), which
   also tells a page upside down from one the right way up.
2. **Refinement by the traces**: on the rectified page each row's zero line is measured in 20 places
   (the most common height of the ink: flat segments dominate) and placed along the row by its vertical
   landmarks (calibration pulse, lead separators, the trace's ends; the separators alone, looked for far
   from their places, when the page came out a few per cent too wide or narrow); a homography fitted to
   those points (RANSAC) maps them onto the layout's rows. Repeated once.
3. **Curl and lens barrel**: what is left of the zero lines' bend is removed by a smooth vertical
   displacement field, interpolated between the rows, in the same remap as the homography.

4. **Registered again** when the pulses are still not at the rows' starts (an outline that took in a
   strip of the desk, lost a corner under a hand, or put the page upside down): the header's rule —
   the page's one long straight stroke — tells which way up the page lies (above the four rows or
   below them), and the rule and rows together give the scale and shift, on a warp that reaches past
   the outline (`_register`). Kept only when the page's orientation then shows (`_reregistered`).

5. **Another outline** (`alternative`) when the chosen one is judged cut off by the frame, or its page is
   refused by the reading (not an ECG, no way up): the next best outlines are rectified in turn and one
   whose rows show three calibration pulses in place stands in (a refusal costs up to five more warps).

The result says what went wrong when the picture cannot be read: no sheet, the sheet cut off by the
frame, too small, too dark or too blurred — so the user can be told how to retake it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from inference import layout as L

WORK_SIDE = 640  # px: the long side the outline search works at
SMALL = 4  # the scoring warp is the canonical page at 1/SMALL
MIN_SCORE = 0.35  # structure score of a usable sheet
REFRAME_BELOW = 0.8  # best outline's score below which the outlines are reframed on the trace rows
AS_IS_SCORE = 0.55  # a page-shaped picture scoring this as it is, is taken as it is
REFINE_TOLERANCE = 0.05  # a refined page scoring this much below the outline's is not taken (the score
#                          saturates near 1: smaller differences are noise)
CHUNKS = 20  # zero-line measurements per row in the refinement
SEPARATOR_OFF = 10  # px: lead separators this far from their places re-place the rows (`_row_points`)
ROWS_X = (60.0, 1544.0)  # the rows' ink extent as `_reframe` measures it on a page (quarter scale)
MIN_PAGE_PX = 450  # the sheet's long side in the picture below which the traces are too thin to follow
MIN_SHARPNESS = 0.12  # stroke sharpness (see `_sharpness`) below which the photo is too blurred
MIN_PAPER_LEVEL = 70  # mean grey of the rectified paper below which the photo is too dark
LONG_STROKE = 0.04  # share of the work picture's long side an ink stroke spans to count as long
MIN_ALT_PULSES = 3  # pulses in place that let another outline stand in for the chosen one (`alternative`)
PULSE_STRIP_W = 200  # px: the calibration pulses (x 69-94) and ink_map's reach around them (< 60 px)


@dataclass(frozen=True)
class Sheet:
    page: np.ndarray  # uint8 RGB, L.PAGE_H x L.PAGE_W: the level canonical page
    method: str  # "as_is" | "outline" | "ink" | "rectangle" | "none"; "+rows" when reframed on the trace rows
    corners: np.ndarray | None  # the page's corners (TL, TR, BR, BL of the upright page) in the picture
    rotation: int  # how the page lay in the picture: 0, 90, 180 or 270 degrees
    score: float  # structure score of the rectified page (0..1)
    problem: str | None = None  # None or: no_sheet, cut_off, sheet_too_small, too_dark, blurred
    problem_detail: str | None = None
    # the other best outlines (score, method, quad, rotation), best first: `alternative` tries them
    others: tuple = field(default=(), repr=False, compare=False)


# ----------------------------------------------------------------------------------------- helpers
def _canonical_corners(scale: float = 1.0) -> np.ndarray:
    return np.array([[0, 0], [L.PAGE_W, 0], [L.PAGE_W, L.PAGE_H], [0, L.PAGE_H]], np.float32) * scale


def _order(quad: np.ndarray) -> np.ndarray:
    """TL, TR, BR, BL in picture coordinates."""
    q = np.asarray(quad, np.float32).reshape(4, 2)
    c = q.mean(axis=0)
    ang = np.arctan2(q[:, 1] - c[1], q[:, 0] - c[0])
    q = q[np.argsort(ang)]  # clockwise in image coordinates starting near -180 deg (left)
    k = int(np.argmin(q.sum(axis=1)))  # top-left has the smallest x + y
    return np.roll(q, -k, axis=0)


def _orientations(quad: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """The two ways a landscape page can lie in this quadrilateral: long side first, and turned 180."""
    q = _order(quad)
    top = np.linalg.norm(q[1] - q[0]) + np.linalg.norm(q[2] - q[3])
    side = np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1])
    if side > top:  # the page stands on its short side: a portrait shot or a sheet turned 90 degrees
        q, rot = np.roll(q, -1, axis=0), 90  # the picture's TR becomes the page's TL
    else:
        rot = 0
    return [(q, rot), (np.roll(q, 2, axis=0), (rot + 180) % 360)]


def _dark_lines(gray: np.ndarray, size: int) -> np.ndarray:
    """Thin dark structures (trace, text) against the paper: a black-hat, normalised to [0, 1]."""
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    bh = cv2.morphologyEx(gray, cv2.MORPH_BLACKHAT, k).astype(np.float32)
    local = cv2.dilate(gray, k).astype(np.float32) + 1.0
    return np.clip(bh / local * 3.0, 0.0, 1.0)


def structure_score(small_page: np.ndarray) -> float:
    """How much a (1/SMALL-scale, level) page looks like this printout: the four rows of trace on
    their zero lines across the whole width, little ink half-way between them."""
    gray = cv2.cvtColor(small_page, cv2.COLOR_RGB2GRAY) if small_page.ndim == 3 else small_page
    ink = _dark_lines(gray, 5) > 0.25
    x0, x1 = int(L.T0_X / SMALL), int((L.T0_X + L.DURATION_S * L.PX_PER_S) / SMALL)
    half = max(2, int(0.35 * L.PX_PER_MV / SMALL))
    on, off = [], []
    for r, y in enumerate(L.BASELINE_Y):
        yc = int(round(y / SMALL))
        band = ink[max(0, yc - half):yc + half + 1, x0:x1]
        on.append(band.any(axis=0).mean() if band.size else 0.0)
        if r < 3:
            ym = int(round((y + 0.5 * L.ROW_PITCH) / SMALL))
            mid = ink[max(0, ym - 2):ym + 3, x0:x1]
            off.append(mid.any(axis=0).mean() if mid.size else 1.0)
    # the calibration pulses stand at the left end of the rows: only a page the right way up has them
    px0, px1 = int(74 / SMALL), int(91 / SMALL) + 1
    pulses = []
    for y in L.BASELINE_Y:
        ya, yb = int((y - 0.9 * L.PX_PER_MV) / SMALL), int((y - 0.1 * L.PX_PER_MV) / SMALL)
        pulses.append(ink[ya:yb, px0:px1].any(axis=1).mean() if yb > ya else 0.0)
    # the header's double rule (y 98-105) runs across the whole width: only at the top of a page
    # the right way up (upside down, the rhythm strip's area is there)
    ya, yb = int(92 / SMALL), int(112 / SMALL) + 1
    rule = ink[ya:yb, int(60 / SMALL):int(1540 / SMALL)].any(axis=0).mean()
    rows = np.sort(on)[1:].mean() - 0.7 * np.mean(off)
    return float(np.clip(0.65 * rows + 0.15 * np.mean(pulses) + 0.2 * rule, 0.0, 1.0))


def _pulse_count(image: np.ndarray, h: np.ndarray) -> int:
    """How many rows show their calibration pulse on the page homography `h` gives. Only the page's
    left strip is warped: the pulses and everything `ink_map` looks at around them lie in it, in
    the canonical page's own coordinates (a full-page warp and ink map cost eight times as much)."""
    from inference.grid import _pulse, ink_map

    strip = cv2.warpPerspective(image, h, (PULSE_STRIP_W, L.PAGE_H), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
    ink = ink_map(strip)
    return sum(_pulse(ink, r) is not None for r in range(4))


def _warp_small(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    h = cv2.getPerspectiveTransform(np.asarray(quad, np.float32), _canonical_corners(1.0 / SMALL))
    return cv2.warpPerspective(image, h, (L.PAGE_W // SMALL, L.PAGE_H // SMALL), flags=cv2.INTER_AREA,
                               borderMode=cv2.BORDER_REPLICATE)


# ------------------------------------------------------------------------------ outline candidates
def _quad_of_contour(cnt: np.ndarray) -> np.ndarray | None:
    hull = cv2.convexHull(cnt)
    peri = cv2.arcLength(hull, True)
    for eps in (0.01, 0.02, 0.03, 0.05, 0.08):
        approx = cv2.approxPolyDP(hull, eps * peri, True)
        if len(approx) == 4:
            return approx.reshape(4, 2).astype(np.float32)
    return cv2.boxPoints(cv2.minAreaRect(hull)).astype(np.float32)


def _paper_quads(work: np.ndarray) -> list[np.ndarray]:
    """The paper: bright and unsaturated against its background (Otsu on lightness minus chroma)."""
    lab = cv2.cvtColor(work, cv2.COLOR_RGB2LAB).astype(np.float32)
    light = lab[..., 0]
    chroma = np.hypot(lab[..., 1] - 128, lab[..., 2] - 128)
    score = light - 2.0 * chroma
    score = cv2.GaussianBlur(score, (0, 0), 2)
    s8 = cv2.normalize(score, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    quads = []
    _, mask = cv2.threshold(s8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    for m in (mask, cv2.adaptiveThreshold(s8, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY,
                                          (max(work.shape[:2]) // 4) | 1, -5)):
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
        m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, k)  # the traces and the text are inside the paper
        m = cv2.morphologyEx(m, cv2.MORPH_OPEN, k)
        cnts, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        area = work.shape[0] * work.shape[1]
        for c in sorted(cnts, key=cv2.contourArea, reverse=True)[:2]:
            if 0.08 * area < cv2.contourArea(c) < 0.995 * area:
                q = _quad_of_contour(c)
                if q is not None:
                    quads.append(q)
    return quads


def _edge_quads(work: np.ndarray) -> list[np.ndarray]:
    gray = cv2.cvtColor(work, cv2.COLOR_RGB2GRAY)
    gray = cv2.GaussianBlur(gray, (5, 5), 0)
    edges = cv2.Canny(gray, 30, 90)
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8))
    cnts, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    area = work.shape[0] * work.shape[1]
    quads = []
    for c in sorted(cnts, key=lambda c: cv2.contourArea(cv2.convexHull(c)), reverse=True)[:3]:
        if 0.08 * area < cv2.contourArea(cv2.convexHull(c)) < 0.98 * area:
            quads.append(_quad_of_contour(c))
    return quads


RED_CONTRAST = 6.0  # redness (R - (G + B) / 2) above its surroundings of a pixel of the grid's red rectangle
RED_WORK_SIDE = 1280  # px: the long side the red rectangle is looked for at (thin: lost at WORK_SIDE)
FAMILY_DEG = 25.0  # a line within this of the rectangle's direction (or its normal) is one of its sides
SIDE_BAND = 0.02  # of the picture's long side: lines this close to each other are one side's
SIDES_APART = 0.2  # ... and opposite sides at least this far apart


def _line_through(pts: np.ndarray) -> np.ndarray:
    """(a, b, c) with a x + b y = c, (a, b) unit, of the straight line fitted to the points."""
    vx, vy, x0, y0 = cv2.fitLine(pts.astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
    return np.array([-vy, vx, -vy * x0 + vx * y0], np.float64)


def _two_sides(fam: np.ndarray, theta: float, side: int) -> list[np.ndarray] | None:
    """The rectangle's two sides among line segments (x1, y1, x2, y2) of one direction `theta`: segments
    at about the same offset are one straight stroke; the sides are the two best-supported strokes (most
    total length) at least SIDES_APART apart (a stray line is short). None when there are no two."""
    if len(fam) < 2:
        return None
    normal = np.array([-np.sin(theta), np.cos(theta)])
    proj = ((fam[:, :2] + fam[:, 2:]) / 2) @ normal
    flen = np.hypot(fam[:, 2] - fam[:, 0], fam[:, 3] - fam[:, 1])
    order = np.argsort(proj)
    groups, cur = [], [order[0]]
    for a, b in zip(order[:-1], order[1:]):
        if proj[b] - proj[a] <= SIDE_BAND * side:
            cur.append(b)
        else:
            groups.append(cur)
            cur = [b]
    groups.append(cur)
    weight = [flen[g].sum() for g in groups]
    pair = None
    for i in range(len(groups)):
        for j in range(i + 1, len(groups)):
            far = abs(proj[groups[j]].mean() - proj[groups[i]].mean()) >= SIDES_APART * side
            if far and (pair is None or weight[i] + weight[j] > pair[0]):
                pair = (weight[i] + weight[j], i, j)
    if pair is None:
        return None
    return [_line_through(fam[groups[g]].reshape(-1, 2)) for g in pair[1:]]


def _grid_box_quads(image: np.ndarray) -> list[np.ndarray]:
    """The page from the thin red rectangle printed round the grid: a straight four-sided cue of known
    place on the page, seen where the paper's own edge is lost against a light desk or a white bed sheet.
    Its sides are the two best-supported straight red strokes of each of the two directions (Hough
    lines on the redness above its surroundings: the dotted grid's dots are too short, a flat pink
    background has none); their corners, mapped through the rectangle's place on the layout, give the page's."""
    scale = min(1.0, RED_WORK_SIDE / max(image.shape[:2]))
    img = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
    rgb = img.astype(np.float32)
    red = rgb[..., 0] - 0.5 * (rgb[..., 1] + rgb[..., 2])
    # redder than what lies around it, and thin (a top-hat: where a blue cloth meets the paper is a step, no line)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
    thin = cv2.morphologyEx(red, cv2.MORPH_TOPHAT, k) > 0.5 * RED_CONTRAST
    mask = (((red - cv2.blur(red, (31, 31))) > RED_CONTRAST) & thin).astype(np.uint8) * 255
    side = max(img.shape[:2])
    lines = cv2.HoughLinesP(mask, 1, np.pi / 360, threshold=int(0.05 * side), minLineLength=int(0.08 * side),
                            maxLineGap=int(0.04 * side))
    if lines is None or len(lines) < 4:
        return []
    seg = lines.reshape(-1, 4).astype(np.float64)
    d = seg[:, 2:] - seg[:, :2]
    length = np.hypot(d[:, 0], d[:, 1])
    ang = np.arctan2(d[:, 1], d[:, 0]) % np.pi
    # the main direction: the length-weighted mean of the doubled angles (a line and its reverse agree)
    main = 0.5 * np.arctan2((length * np.sin(2 * ang)).sum(), (length * np.cos(2 * ang)).sum())
    sides = []
    for theta in (main, main + np.pi / 2):
        off = np.abs((ang - theta + np.pi / 2) % np.pi - np.pi / 2)
        pair = _two_sides(seg[off < np.radians(FAMILY_DEG)], theta, side)
        if pair is None:
            return []
        sides += pair
    corners = []
    for a in sides[:2]:
        for b in sides[2:]:
            m = np.array([a[:2], b[:2]])
            if abs(np.linalg.det(m)) < 1e-6:
                return []
            corners.append(np.linalg.solve(m, np.array([a[2], b[2]])))
    box = _order(np.array(corners) / scale)
    gx0, gy0, gx1, gy1 = L.GRID_BOX
    grid = np.array([[gx0, gy0], [gx1, gy0], [gx1, gy1], [gx0, gy1]], np.float32)
    q, _ = _orientations(box)[0]  # long side first, as the page lies
    h = cv2.getPerspectiveTransform(q.astype(np.float32), grid)
    page = cv2.perspectiveTransform(_canonical_corners().reshape(-1, 1, 2), np.linalg.inv(h)).reshape(4, 2)
    return [page.astype(np.float32)]


def _long_strokes(ink: np.ndarray, min_side: float) -> np.ndarray:
    """The ink's strokes that span at least `min_side` px (traces, rules, edges), without the specks."""
    from inference.grid import components

    n, lab, stats = components(ink.astype(np.uint8))
    keep = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]) >= min_side
    keep[0] = False
    return keep[lab]


def _ink_quads(work: np.ndarray) -> list[np.ndarray]:
    """The page from its long strokes — the trace rows, the lead separators, the header's rule and,
    where the paper's edge casts a line of shadow, the edge itself: their outline as it is (a
    perspective quadrilateral, the page's own when its edges were among them), and their extent grown
    to the page (traces and print reach almost to its edges). Short strokes are left out: a bed
    sheet's weave, wood grain and the print's letters are specks and short dashes at this scale."""
    from inference.grid import components

    ink = _ink_mask(cv2.cvtColor(work, cv2.COLOR_RGB2GRAY), 7).astype(np.uint8)
    n, lab, stats = components(ink)
    if n < 2:
        return []
    side = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    long_ = side >= LONG_STROKE * max(work.shape[:2])
    long_[0] = False
    if not long_.any():
        return []
    # around the biggest (rows 1-3 joined by the separators): the rest of the page lies within about
    # its own size of its centre; what lies farther is the background's
    big = int(np.argmax(np.where(long_, stats[:, cv2.CC_STAT_AREA], 0)))
    pts_big = np.column_stack(np.nonzero(lab == big))[:, ::-1].astype(np.float32)
    (cx, cy), (w, h), ang = cv2.minAreaRect(pts_big)
    reach = np.zeros(ink.shape, np.uint8)
    box = cv2.boxPoints(((cx, cy), (1.2 * w + 2.0 * h, 1.2 * h + 2.0 * w), ang))
    cv2.fillConvexPoly(reach, np.round(box).astype(np.int32), 1)
    pts = np.column_stack(np.nonzero(long_[lab] & (reach > 0)))[:, ::-1].astype(np.float32)
    if len(pts) < 100:
        return []
    quads = [_quad_of_contour(pts.reshape(-1, 1, 2))]
    (cx, cy), (w, h), ang = cv2.minAreaRect(pts)
    # ink spans about 1520 x 1110 of the 1600 x 1137 page
    grow_l, grow_s = L.PAGE_W / 1520.0, L.PAGE_H / 1110.0
    if w >= h:
        w, h = w * grow_l, h * grow_s
    else:
        w, h = w * grow_s, h * grow_l
    quads.append(cv2.boxPoints(((cx, cy), (w, h), ang)).astype(np.float32))
    return quads


def _ink_mask(gray: np.ndarray, size: int) -> np.ndarray:
    """Thin dark strokes (trace, print) without the thick dark things (a pen, a finger's shadow)."""
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    strong = cv2.morphologyEx(gray, cv2.MORPH_BLACKHAT, k) > 12  # sensor noise in a shadow is weaker
    ink = (_dark_lines(gray, size) > 0.3) & strong
    dark = (gray < 0.6 * cv2.dilate(gray, np.ones((25, 25), np.uint8))).astype(np.uint8)
    thick = cv2.dilate(cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8)), np.ones((5, 5), np.uint8))
    return ink & (thick == 0)


def _rows_extent(ink: np.ndarray, rows_y: np.ndarray, sc: float) -> tuple[int, int] | None:
    """(first, last) column of the rows' ink on a 1/SMALL page whose rows lie at `rows_y` (scale `sc`):
    the longest run of columns with ink in the rows' bands, short gaps bridged (specks of a textured
    background beyond the paper's edge are not part of it). None when no run spans 50 columns."""
    band = np.zeros_like(ink)
    half = max(2, int(0.3 * L.ROW_PITCH / SMALL * sc))
    for y in rows_y:
        band[max(0, int(y) - half):int(y) + half + 1] = True
    cols = np.convolve((ink & band).sum(axis=0).astype(np.float32), np.ones(5) / 5, mode="same")
    on = cv2.morphologyEx((cols > 0.5).astype(np.uint8)[None], cv2.MORPH_CLOSE, np.ones((1, 7), np.uint8))[0]
    edges = np.diff(np.r_[0, on, 0].astype(np.int8))
    starts, ends = np.where(edges == 1)[0], np.where(edges == -1)[0]
    if len(starts) == 0:
        return None
    k = int((ends - starts).argmax())
    if ends[k] - starts[k] < 50:
        return None
    return int(starts[k]), int(ends[k])


def _reframe(image: np.ndarray, quad: np.ndarray) -> np.ndarray | None:
    """A better outline from a rough one: on the warped page, find the four trace rows (the height
    profile of the ink against the layout's rows, over scale and shift) and the rows' ends, and stretch
    and shift the page so they lie where the layout has them. None when nothing fits."""
    small = _warp_small(image, quad)
    ink = _long_strokes(_ink_mask(np.ascontiguousarray(small[..., 0]), 5), 8)  # red: the pink rectangle drops out
    ink[:, :6] = ink[:, -6:] = False  # the paper's own edge, where the outline ran along it
    prof = ink.sum(axis=1).astype(np.float32)
    prof = np.convolve(prof, np.ones(3) / 3, mode="same")
    rows = np.array(L.BASELINE_Y) / SMALL
    best = (0.0, 1.0, 0.0)
    n = len(prof)
    for sc in np.arange(0.8, 1.251, 0.01):
        pos = rows[None, :] * sc + np.arange(-40, 41)[:, None]
        idx = np.round(pos).astype(int)
        ok = (idx >= 0) & (idx < n)
        val = np.where(ok, prof[np.clip(idx, 0, n - 1)], 0).sum(axis=1)
        k = int(val.argmax())
        if val[k] > best[0]:
            best = (float(val[k]), float(sc), float(np.arange(-40, 41)[k]))
    _, sc, sh = best
    if best[0] <= 0:
        return None
    # y_observed = sc * y_layout + sh  ->  the rows' band, and the ends of the ink along them
    extent = _rows_extent(ink, rows * sc + sh, sc)
    if extent is None:
        return None
    x0, x1 = extent[0] * SMALL, extent[1] * SMALL
    ay = 1.0 / sc
    by = -sh * SMALL / sc
    ax = (ROWS_X[1] - ROWS_X[0]) / max(x1 - x0, 1)
    bx = ROWS_X[0] - ax * x0
    if not (0.6 < ax < 1.7):
        return None
    a = np.array([[ax, 0, bx], [0, ay, by], [0, 0, 1]])
    h = a @ cv2.getPerspectiveTransform(np.asarray(quad, np.float32), _canonical_corners())
    return cv2.perspectiveTransform(_canonical_corners().reshape(-1, 1, 2), np.linalg.inv(h)).reshape(4, 2)


RULE_Y = 101.5  # the header's double rule on the canonical page
REGISTER_MARGIN = 0.2  # share of the page's size `_register` looks beyond the rough outline, each side
RULE_MIN_LEN = 100  # px at 1/SMALL: a straight horizontal stroke this long is the header's rule (a trace
# row's flat stretch between beats is under 40 px there even at 40 bpm)


def _register(image: np.ndarray, quad: np.ndarray) -> np.ndarray | None:
    """The page's outline from a rough, perhaps upside-down one whose rows lie far from their places
    (more than `_reframe` searches: an outline that took in a strip of the desk, or lost a corner
    under a hand). Which way up: the header's rule — the one long straight horizontal stroke — lies
    above the four trace rows on the page the right way up, below them on a page turned 180 degrees.
    Where: the four rows and the rule fitted together (scale and shift) to their heights on the
    layout, on a warp that reaches beyond the outline; the rows' ends give the horizontal scale. None
    when no rows are found."""
    m = REGISTER_MARGIN
    w, h = L.PAGE_W // SMALL, L.PAGE_H // SMALL
    ox, oy = round(m * w), round(m * h)
    to_canvas = np.array([[1.0 / SMALL, 0, ox], [0, 1.0 / SMALL, oy], [0, 0, 1]])
    h0 = cv2.getPerspectiveTransform(np.asarray(quad, np.float32), _canonical_corners())
    canvas = cv2.warpPerspective(image, to_canvas @ h0, (w + 2 * ox, h + 2 * oy), flags=cv2.INTER_AREA,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=(255, 255, 255))
    ink = _long_strokes(_ink_mask(np.ascontiguousarray(canvas[..., 0]), 5), 8)
    lines = cv2.morphologyEx(ink.astype(np.uint8), cv2.MORPH_OPEN, np.ones((1, RULE_MIN_LEN), np.uint8)) > 0
    rows_ink = ink & ~cv2.dilate(lines.astype(np.uint8), np.ones((3, 1), np.uint8)).astype(bool)
    smooth = np.ones(3) / 3
    row_prof = np.convolve(rows_ink.sum(axis=1).astype(np.float32), smooth, mode="same")
    line_prof = np.convolve(lines.sum(axis=1).astype(np.float32), smooth, mode="same")
    if row_prof.sum() <= 0:
        return None
    flipped = False
    if line_prof.max() >= RULE_MIN_LEN:
        rule_y = float(np.argmax(line_prof))
        centre = float(np.dot(np.arange(len(row_prof)), row_prof) / row_prof.sum())
        flipped = rule_y > centre
    if flipped:  # look at the canvas turned 180 degrees: the page the right way up
        rows_ink, row_prof, line_prof = rows_ink[::-1, ::-1], row_prof[::-1], line_prof[::-1]
    n = len(row_prof)
    marks = np.r_[RULE_Y, L.BASELINE_Y] / SMALL
    shifts = np.arange(-oy - 40, oy + 41)
    best = (0.0, 1.0, 0.0)
    for sc in np.arange(0.6, 1.5, 0.01):
        idx = np.round(marks[None, :] * sc + oy + shifts[:, None]).astype(int)
        ok = (idx >= 0) & (idx < n)
        rows_v = np.where(ok[:, 1:], row_prof[np.clip(idx[:, 1:], 0, n - 1)], 0.0)
        rule_v = np.where(ok[:, 0], line_prof[np.clip(idx[:, 0], 0, n - 1)], 0.0)
        # all four rows (the weakest counts twice: three rows and the rule must not pass for four)
        score = rows_v.sum(axis=1) + 2.0 * rows_v.min(axis=1) + rule_v
        k = int(score.argmax())
        if score[k] > best[0]:
            best = (float(score[k]), float(sc), float(shifts[k]))
    _, sc, sh = best
    if best[0] <= 0:
        return None
    extent = _rows_extent(rows_ink, np.array(L.BASELINE_Y) / SMALL * sc + oy + sh, sc)
    if extent is None:
        return None
    # canvas (the right way up) -> canonical page: x from the rows' ends, y from the fitted scale/shift
    x0, x1 = (extent[0] - ox) * SMALL, (extent[1] - ox) * SMALL
    ax = (ROWS_X[1] - ROWS_X[0]) / max(x1 - x0, 1)
    if not (0.6 < ax < 1.7):
        return None
    ay = 1.0 / sc
    fit = np.array([[ax, 0, ROWS_X[0] - ax * x0], [0, ay, -sh * SMALL / sc], [0, 0, 1]])
    # canonical <- canvas-upright (fit works in canvas-upright pixels less the margin, times SMALL)
    canvas_to_canonical = fit @ np.array([[SMALL, 0, -ox * SMALL], [0, SMALL, -oy * SMALL], [0, 0, 1]])
    flip = np.eye(3)
    if flipped:
        cw, ch = w + 2 * ox, h + 2 * oy
        flip = np.array([[-1.0, 0, cw - 1], [0, -1.0, ch - 1], [0, 0, 1]])
    hn = canvas_to_canonical @ flip @ to_canvas @ h0
    return cv2.perspectiveTransform(_canonical_corners().reshape(-1, 1, 2), np.linalg.inv(hn)).reshape(4, 2)


# --------------------------------------------------------------------------------------- refine
def _row_x_map(ink: np.ndarray, row: int, y_obs: float) -> tuple[float, float] | None:
    """(a, b) with canonical x = a * observed x + b for one row, from its vertical landmarks
    (`grid.row_landmarks`). None with fewer than two; only the offset when they span too little."""
    from inference.grid import row_landmarks, stroke_mask

    ya, yb = int(max(0, y_obs - L.ROW_PITCH / 2)), int(min(ink.shape[0], y_obs + L.ROW_PITCH / 2))
    if yb <= ya:  # the row's fitted zero line runs off the page (a picture that is hardly a page)
        return None
    strokes = np.zeros(ink.shape, bool)
    strokes[ya:yb] = stroke_mask(ink[ya:yb])
    marks = row_landmarks(ink, strokes, row, y_obs, faint=False)
    if len(marks) < 2:
        return None
    obs, ref = np.array(marks).T
    if ref.max() - ref.min() < 300:  # the pulse and the start only: trust the offset, not the scale
        return 1.0, float(np.mean(ref - obs))
    a, b = np.polyfit(obs, ref, 1)
    if not 0.8 < a < 1.25:
        return None
    return float(a), float(b)


def _row_points(page: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Observed (x, y) on the rectified page of points whose place on the layout is known, and those
    places: each row's zero line in CHUNKS places (its most common ink height), placed along the row
    by the row's vertical landmarks (calibration pulse, lead separators)."""
    from inference.grid import ink_map, separator_x_map

    inkf = ink_map(page)
    ink = inkf > 0.3
    src, dst, rows = [], [], []
    half = int(0.5 * L.ROW_PITCH)
    x_lo, x_hi = L.T0_X, L.T0_X + L.DURATION_S * L.PX_PER_S
    for r, y_ref in enumerate(L.BASELINE_Y):
        ya, yb = int(y_ref - half), int(min(page.shape[0], y_ref + half))
        band = ink[ya:yb]
        if band.size == 0:
            continue
        edges = np.linspace(x_lo + 0.03 * (x_hi - x_lo), x_hi - 0.01 * (x_hi - x_lo), CHUNKS + 1)
        pts = []
        for a, b in zip(edges[:-1], edges[1:]):
            hist = band[:, int(a):int(b)].sum(axis=1).astype(np.float32)
            if hist.max() < 3:
                continue
            hist = np.convolve(hist, np.ones(3) / 3, mode="same")
            pts.append(((a + b) / 2, ya + float(hist.argmax())))
        if len(pts) < CHUNKS // 2:
            continue
        arr = np.array(pts)
        # the zero line is straight on paper: drop chunk estimates a T wave or an ST shift pulled away
        fit = np.polyfit(arr[:, 0], arr[:, 1], 2)
        res = arr[:, 1] - np.polyval(fit, arr[:, 0])
        arr = arr[np.abs(res) < max(3.0, 2.5 * np.median(np.abs(res)))]
        rows.append((arr, y_ref, _row_x_map(inkf, r, float(np.polyval(fit, L.T0_X)))))
    # a row without landmarks of its own takes the others' mean map (left as it is, it would pin the
    # page's x where it wrongly is)
    found = [m for _, _, m in rows if m is not None]
    fill = tuple(np.mean(found, axis=0)) if found else (1.0, 0.0)
    # the lead separators far from their places: the page's x is off by more than the rows' own landmarks
    # are looked for (they found the pulse, not the separators): the separators place every row
    wide = separator_x_map(inkf)
    if wide is not None and max(abs(wide[0] * x + wide[1] - x) for x in L.SEPARATOR_X) > SEPARATOR_OFF:
        rows = [(arr, y_ref, wide) for arr, y_ref, _ in rows]
    for arr, y_ref, xmap in rows:
        a, b = xmap if xmap is not None else fill
        for xc, y in arr:
            src.append((xc, y))
            dst.append((a * xc + b, y_ref))
    return np.array(src, np.float32).reshape(-1, 2), np.array(dst, np.float32).reshape(-1, 2)


def _warp(image: np.ndarray, h: np.ndarray) -> np.ndarray:
    return cv2.warpPerspective(image, h, (L.PAGE_W, L.PAGE_H), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)


def _winding(h: np.ndarray) -> float:
    """The sign of the page's outline's area in the picture (a mirrored mapping turns it over)."""
    c = cv2.perspectiveTransform(_canonical_corners().reshape(-1, 1, 2), np.linalg.inv(h)).reshape(4, 2)
    return float(np.sign(np.dot(c[:, 0], np.roll(c[:, 1], -1)) - np.dot(c[:, 1], np.roll(c[:, 0], -1))))


def _refine(image: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Two rounds of fitting the rows' zero lines and ends onto the layout. Returns the homography and
    the last round's zero-line points: where they lie on the page that homography gives (the points
    measured before the round's correction, moved by it: the same picture, so no new measurement)
    and their places on the layout; None, None when no round could be fitted."""
    src = dst = None
    for _ in range(2):
        s, d = _row_points(_warp(image, h))
        if len(s) < 12 or len(np.unique(np.round(d[:, 1]))) < 3:
            break
        hr, inl = cv2.findHomography(s, d, cv2.RANSAC, 4.0)
        # a fit that turns the page over (rows of an upside-down page matched in reverse order) would
        # read every trace upside down: not taken
        if hr is None or inl.sum() < 10 or _winding(hr @ h) != _winding(h):
            break
        h = hr @ h
        src, dst = cv2.perspectiveTransform(s.reshape(-1, 1, 2), hr).reshape(-1, 2), d
    return h, src, dst


def _uncurl(image: np.ndarray, h: np.ndarray, src: np.ndarray | None, dst: np.ndarray | None) -> np.ndarray | None:
    """The page with the rows' remaining bend (paper curl, lens barrel) removed by a vertical
    displacement field, from the zero-line points `src` (on the page `h` gives) and their places
    `dst`; None when there is no bend to remove or too little to fit it on."""
    if src is None or len(src) < 30:
        return None
    rows = np.unique(dst[:, 1])
    if len(rows) < 3:
        return None
    xs = np.arange(L.PAGE_W, dtype=np.float32)
    field = []
    for y_ref in rows:
        sel = dst[:, 1] == y_ref
        sx, sy = src[sel, 0], src[sel, 1] - y_ref
        if len(sx) < 8:
            return None
        fit = np.polyfit(sx, sy, 2)
        field.append(np.polyval(fit, np.clip(xs, sx.min(), sx.max())))
    field = np.array(field, np.float32)  # (rows, W): how far below its place each row's zero line is
    if np.abs(field).max() < 1.0 or np.abs(field).max() > 40:
        return None
    # displacement at every (y, x): linear between the rows, constant beyond the outer ones
    yy = np.arange(L.PAGE_H, dtype=np.float32)
    k = np.clip(np.searchsorted(rows, yy) - 1, 0, len(rows) - 2)
    t = np.clip((yy - rows[k]) / (rows[k + 1] - rows[k]), 0.0, 1.0).astype(np.float32)[:, None]
    map_y = yy[:, None] + field[k] * (1.0 - t) + field[k + 1] * t
    map_x = np.broadcast_to(xs, map_y.shape)
    # compose with the homography: canonical (x, y + dy) -> picture coordinates, one interpolation
    hinv = np.linalg.inv(h).astype(np.float32)
    den = hinv[2, 0] * map_x + hinv[2, 1] * map_y + hinv[2, 2]
    mx = (hinv[0, 0] * map_x + hinv[0, 1] * map_y + hinv[0, 2]) / den
    my = (hinv[1, 0] * map_x + hinv[1, 1] * map_y + hinv[1, 2]) / den
    return cv2.remap(image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


# ------------------------------------------------------------------------------------- quality
def _sharpness(page: np.ndarray) -> float:
    """How crisp the strokes are: the 99th percentile of the gradient in the trace area against the
    paper's contrast (a sharp stroke is a steep edge; blur flattens it)."""
    gray = cv2.cvtColor(page, cv2.COLOR_RGB2GRAY).astype(np.float32)
    x0, y0, x1, y1 = L.GRID_BOX
    area = gray[y0:y1, x0:x1]
    gx = cv2.Sobel(area, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(area, cv2.CV_32F, 0, 1, ksize=3)
    g = cv2.magnitude(gx, gy)  # (np.hypot's care for overflow costs 15x as much; gradients of grey levels need none)
    # the paper's and the ink's levels are as well measured on every 4th pixel (a sixteenth of the
    # work); the steepest edges are rare, so they are counted on all
    lo, hi = np.percentile(area[::4, ::4], (0.5, 95))
    return float(high_percentile(g, 99.5) / (4.0 * (hi - lo + 1.0)))


def high_percentile(x: np.ndarray, q: float) -> float:
    """`np.percentile(x, q)` (linear interpolation) for a high q, sorted out among the largest values only:
    those above the (2q - 100)th percentile of every 16th value (a full partition of a page's million
    values costs ten times as much); the full percentile when that margin was not enough."""
    flat = x.ravel()
    pos = q / 100.0 * (flat.size - 1)
    top = flat[flat >= np.percentile(flat[::16], max(0.0, 2.0 * q - 100.0))]
    k = int(np.floor(pos)) - (flat.size - top.size)  # the wanted rank among the candidates
    if k < 0 or top.size == 0:
        return float(np.percentile(flat, q))
    k1 = min(k + 1, top.size - 1)
    part = np.partition(top, [k, k1])
    a, b = float(part[k]), float(part[k1])
    return a + (b - a) * (pos - np.floor(pos))


def _grid_box_part_inside(h: np.ndarray, shape: tuple[int, ...]) -> float:
    """The share of the trace area's outline that lies inside the picture."""
    x0, y0, x1, y1 = L.GRID_BOX
    t = np.linspace(0, 1, 25)
    pts = np.concatenate([np.c_[x0 + t * (x1 - x0), np.full_like(t, y0)], np.c_[np.full_like(t, x1), y0 + t * (y1 - y0)],
                          np.c_[x0 + t * (x1 - x0), np.full_like(t, y1)], np.c_[np.full_like(t, x0), y0 + t * (y1 - y0)]])
    pic = cv2.perspectiveTransform(pts.reshape(-1, 1, 2).astype(np.float32), np.linalg.inv(h)).reshape(-1, 2)
    hh, ww = shape[:2]
    inside = (pic[:, 0] >= 0) & (pic[:, 0] < ww) & (pic[:, 1] >= 0) & (pic[:, 1] < hh)
    return float(inside.mean())


def header_rule_cover(page: np.ndarray) -> float:
    """How fully the header's double rule (y 98-105, x 60-1540) shows near the top of a rectified page:
    the share of 14 stretches of the width in which a straight horizontal stroke lies on one line
    across the top 300 px (a line, not one height: a photo's page may come out slightly tilted or
    bent at the top, where no trace row pins it). Near 1 on a page the right way up; on a page turned
    180 degrees the rule lies near the bottom and the top holds the rhythm strip's and the footer's
    broken strokes, and the rhythm strip's flat baseline lies below `RULE_BAND` (pinned by
    tests/test_sheet_photos.py: a page, tilted 2.5 degrees or not, ≥ 0.7 upright and < 0.5 turned over;
    the photos of real pages read upside down are refused)."""
    from inference.grid import ink_map

    top = np.ascontiguousarray(page[:300])
    ink = (ink_map(top) > 0.3).astype(np.uint8)
    # straight strokes only: a 61 px long horizontal opening drops letters, the grid's dots and waves
    hor = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((1, 61), np.uint8))
    hor = cv2.dilate(hor, np.ones((5, 1), np.uint8))  # a slightly tilted stroke still counts at one height
    points = []  # (stretch, x, y): the heights straight strokes cover in each stretch of the width
    for k, a in enumerate(range(100, 1500, 100)):
        prof = hor[:, a:a + 100].mean(axis=1)
        peaks = np.where((prof >= RULE_STRETCH_COVER) & (prof >= np.maximum(np.r_[0, prof[:-1]], np.r_[prof[1:], 0])))[0]
        points += [(k, a + 50.0, float(y)) for y in peaks]
    # the line through the most stretches, nearly level and near the rule's place (the paper's top edge
    # against a dark desk, or a fold, makes other straight lines): every line of a fine grid of slopes and
    # heights at the page's middle, each counting the stretches with a point within 6 px of it
    pts = np.array(points, float).reshape(-1, 3)
    if len(pts) == 0:
        return 0.0
    slopes = np.linspace(-RULE_MAX_SLOPE, RULE_MAX_SLOPE, 41)
    mids = np.arange(RULE_BAND[0], RULE_BAND[1] + 1.0, 2.0)
    sl, md = (g.reshape(-1, 1) for g in np.meshgrid(slopes, mids))
    near = np.abs(pts[None, :, 2] - (md + sl * (pts[None, :, 1] - 800.0))) <= 6  # (lines, points)
    stretches = pts[:, 0].astype(int)
    covered = np.zeros((len(sl), 14), bool)
    for k in np.unique(stretches):
        covered[:, k] = near[:, stretches == k].any(axis=1)
    return float(covered.sum(axis=1).max() / 14.0)


RULE_MAX_SLOPE = 0.1  # the rule's tilt on a rectified photo (its top is extrapolated from the rows)
RULE_BAND = (60.0, 140.0)  # px: where the rule's line may cross the page's middle (it is at 101.5; upside down,
# the rhythm strip's flat baseline lies at 150)
RULE_STRETCH_COVER = 0.8  # share of a stretch one straight stroke covers to count (the rule runs unbroken;
# a trace's flat stretches are cut by its beats)


# ---------------------------------------------------------------------------------------- public
def as_page(image: np.ndarray) -> np.ndarray:
    """A page-shaped picture at the canonical width (the array itself when it already is 1600 wide)."""
    if image.shape[1] == L.PAGE_W:
        return image
    from PIL import Image

    h = max(1, round(image.shape[0] * L.PAGE_W / image.shape[1]))
    return np.asarray(Image.fromarray(image).resize((L.PAGE_W, h), Image.BILINEAR))


def _is_the_page(image: np.ndarray) -> float | None:
    """The score of a picture that already is the page (a scan, a screenshot), else None."""
    h, w = image.shape[:2]
    if not (0.97 * L.PAGE_ASPECT <= w / h <= 1.03 * L.PAGE_ASPECT):
        return None
    page = as_page(image)
    small = cv2.resize(page, (L.PAGE_W // SMALL, L.PAGE_H // SMALL), interpolation=cv2.INTER_AREA)
    s = structure_score(small)
    return s if s >= AS_IS_SCORE else None


def find_sheet(image: np.ndarray) -> Sheet:
    """The canonical page for a picture (see the module docstring)."""
    s = _is_the_page(image)
    if s is not None:
        page = as_page(image)
        h, w = image.shape[:2]
        return Sheet(page=page, method="as_is", rotation=0, score=s,
                     corners=np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32))
    scale = WORK_SIDE / max(image.shape[:2])
    work = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
    scale = min(scale, 1.0)
    candidates = []
    for method, finder in (("outline", _paper_quads), ("outline", _edge_quads), ("ink", _ink_quads)):
        for quad in finder(work):
            for q, rot in _orientations(quad / scale):
                candidates.append((structure_score(_warp_small(image, q)), method, q, rot))
    for quad in _grid_box_quads(image):
        for q, rot in _orientations(quad):
            candidates.append((structure_score(_warp_small(image, q)), "rectangle", q, rot))
    if candidates and max(c[0] for c in candidates) < REFRAME_BELOW:
        # no outline fits well (paper on a white sheet, a hand over an edge): reframe the best few on
        # the trace rows they hold
        for score, method, q, rot in sorted(candidates, key=lambda c: -c[0])[:4]:
            for _ in range(2):
                q = _reframe(image, q)
                if q is None:
                    break
                candidates.append((structure_score(_warp_small(image, q)), method + "+rows", q, rot))
    if not candidates:
        return _no_sheet(image)
    candidates.sort(key=lambda c: -c[0])
    # the best few outlines, each also turned 180 degrees, judged at full resolution by the calibration
    # pulses: only the page the right way up has them at the left end of its rows
    picked: list[tuple[float, str, np.ndarray, int]] = []
    for score, method, quad, rot in candidates:
        if len(picked) >= 3 * 2:
            break
        if any(np.abs(quad - q).max() < 0.03 * max(image.shape[:2]) for _, _, q, _ in picked):
            continue
        picked.append((score, method, quad, rot))
        twin = np.roll(quad, 2, axis=0)
        if not any(np.abs(twin - q).max() < 1 for _, _, q, _ in picked):
            picked.append((structure_score(_warp_small(image, twin)), method, twin, (rot + 180) % 360))
    best = None
    for score, method, quad, rot in picked:
        h0 = cv2.getPerspectiveTransform(quad.astype(np.float32), _canonical_corners())
        total = score + 0.1 * _pulse_count(image, h0)
        if best is None or total > best[0]:
            best = (total, score, method, quad, rot, h0)
    _, best_score, method, quad, rot, h0 = best
    h, page, score = _rectified(image, h0, best_score)
    pulses = _pulse_count(image, h)
    if pulses < 2:
        # on a rough outline the pulses may lie off their windows: which way up the page is, is
        # settled again on the refined pages, this one's and the one turned 180 degrees
        twin = np.roll(quad, 2, axis=0)
        for _ in range(2):  # the rows' ends and heights put the turned outline where its rows are
            twin = _reframe(image, twin)
            if twin is None:
                break
        if twin is None:
            twin = np.roll(quad, 2, axis=0)
        h0t = cv2.getPerspectiveTransform(twin.astype(np.float32), _canonical_corners())
        ht, paget, scoret = _rectified(image, h0t, structure_score(_warp_small(image, twin)))
        if _pulse_count(image, ht) > pulses:
            h, page, score, rot = ht, paget, scoret, (rot + 180) % 360
            pulses = _pulse_count(image, h)
    if pulses < 2:
        h, page, score, rot = _reregistered(image, h, page, score, rot, pulses)
    h, page, score, rot = _turned_by_rule(image, h, page, score, rot)
    corners = cv2.perspectiveTransform(_canonical_corners().reshape(-1, 1, 2), np.linalg.inv(h)).reshape(4, 2)
    others = tuple(sorted((c for c in picked if np.abs(c[2] - quad).max() >= 0.03 * max(image.shape[:2])),
                          key=lambda c: -c[0]))
    sheet = _judge(image, Sheet(page=white_balanced(page), method=method, corners=corners, rotation=rot,
                                score=score, others=others), h)
    if sheet.problem == "cut_off":
        return alternative(image, sheet) or sheet
    return sheet


def alternative(image: np.ndarray, sheet: Sheet) -> Sheet | None:
    """Another of the best outlines (`sheet.others`) when the chosen one failed: it reaches past the
    frame although the sheet lies inside it (a pen across a corner bent the paper's outline outward),
    or its page is not read as an ECG (`reading`: the outline sits on the wrong part of the picture).
    Taken only when, once rectified, it shows at least MIN_ALT_PULSES calibration pulses at its rows'
    starts (its page lies where the layout has it) and `_judge` finds nothing against it. A sheet truly
    cut by the frame has no such outline: rectified where it is, its grid reaches past the frame again;
    stretched over the part in view, its pulses are not where the layout has them."""
    for score, method, quad, rot in sheet.others:
        h0 = cv2.getPerspectiveTransform(quad.astype(np.float32), _canonical_corners())
        h, page, score = _rectified(image, h0, score)
        if _pulse_count(image, h) < MIN_ALT_PULSES:
            continue
        corners = cv2.perspectiveTransform(_canonical_corners().reshape(-1, 1, 2), np.linalg.inv(h)).reshape(4, 2)
        found = _judge(image, Sheet(page=white_balanced(page), method=method + "+other", corners=corners,
                                    rotation=rot, score=score), h)
        if found.problem is None:
            return found
    return None


def _rectified(image: np.ndarray, h0: np.ndarray, score0: float) -> tuple[np.ndarray, np.ndarray, float]:
    """(homography, page, structure score) of an outline's page refined on its rows and uncurled; the
    outline's own when the refinement made it worse (a page hardly an ECG)."""
    h, src, dst = _refine(image, h0)
    page = _uncurl(image, h, src, dst)
    if page is None:
        page = _warp(image, h)
    small = cv2.resize(page, (L.PAGE_W // SMALL, L.PAGE_H // SMALL), interpolation=cv2.INTER_AREA)
    score = structure_score(small)
    if score < score0 - REFINE_TOLERANCE:
        return h0, _warp(image, h0), score0
    return h, page, score


ORIENTED_RULE = 0.7  # `header_rule_cover` that shows a page the right way up (`reading` requires it too)


def _reregistered(image: np.ndarray, h: np.ndarray, page: np.ndarray, score: float, rot: int,
                  pulses: int) -> tuple[np.ndarray, np.ndarray, float, int]:
    """(homography, page, score, rotation): a page whose calibration pulses are not where the layout
    has them — rectified upside down, or with its rows far from their places — registered again from
    its outline by the header's rule and the rows (`_register`); kept when that shows the page's
    orientation better (more pulses in place, else the header's rule across the top)."""
    def key(p: int, pg: np.ndarray, s: float) -> tuple:
        return p >= 2 or header_rule_cover(pg) >= ORIENTED_RULE, min(p, 2), s

    before = key(pulses, page, score)
    if before[0]:  # its orientation shows: its registration is the finer one
        return h, page, score, rot
    corners = cv2.perspectiveTransform(_canonical_corners().reshape(-1, 1, 2), np.linalg.inv(h)).reshape(4, 2)
    quad = _register(image, corners)
    if quad is None:
        return h, page, score, rot
    reframed = _reframe(image, quad)
    quad = quad if reframed is None else reframed
    h0 = cv2.getPerspectiveTransform(quad.astype(np.float32), _canonical_corners())
    hr, pager, scorer = _rectified(image, h0, structure_score(_warp_small(image, quad)))
    if key(_pulse_count(image, hr), pager, scorer) <= before:
        return h, page, score, rot
    # turned 180 degrees against the outline it came from when its top-left corner went to the other end
    flipped = np.linalg.norm(quad[0] - corners[2]) < np.linalg.norm(quad[0] - corners[0])
    return hr, pager, scorer, (rot + 180) % 360 if flipped else rot


TURN_CENTRES = ((L.PAGE_W / 2, L.PAGE_H / 2),  # a page registered by its outline turns about its middle,
                (L.PAGE_W / 2, (L.BASELINE_Y[0] + L.BASELINE_Y[-1]) / 2))  # one registered by its rows about theirs
TURN_RULE_GAIN = 0.3  # how much more of the header rule the turned page must show
TURN_RAW_RULE = 0.4  # the rule's cover on the turned page before its refinement, to be worth refining


def _turned_by_rule(image: np.ndarray, h: np.ndarray, page: np.ndarray, score: float,
                    rot: int) -> tuple[np.ndarray, np.ndarray, float, int]:
    """(homography, page, score, rotation): a page whose header rule does not show across its top, turned
    180 degrees when the turned page shows it (`header_rule_cover` >= ORIENTED_RULE, TURN_RULE_GAIN more
    than before). The calibration-pulse test that chose the way up can be fooled on a blurred photo (the
    trace's ends and QRS spikes at the left end of a page upside down pass for pulses, and the real
    pulses, blurred, fail it); the rule is one unbroken straight stroke no trace makes. Both centres of
    turning are tried (the outline's and the rows'), each refined on its rows."""
    cover = header_rule_cover(page)
    if cover >= ORIENTED_RULE:
        return h, page, score, rot
    for cx, cy in TURN_CENTRES:
        turn = np.array([[-1.0, 0.0, 2 * cx], [0.0, -1.0, 2 * cy], [0.0, 0.0, 1.0]])
        h0 = turn @ h
        raw = _warp(image, h0)
        if header_rule_cover(raw) < TURN_RAW_RULE:  # not even a rough rule there: spare the refinement
            continue
        small = cv2.resize(raw, (L.PAGE_W // SMALL, L.PAGE_H // SMALL), interpolation=cv2.INTER_AREA)
        ht, paget, scoret = _rectified(image, h0, structure_score(small))
        turned = header_rule_cover(paget)
        if turned >= ORIENTED_RULE and turned >= cover + TURN_RULE_GAIN and scoret >= score - REFINE_TOLERANCE:
            return ht, paget, scoret, (rot + 180) % 360
    return h, page, score, rot


def white_balanced(page: np.ndarray) -> np.ndarray:
    """The photo's colour cast taken off: each channel scaled so the paper (the median colour of the
    brightest 40 % inside the grid rectangle) is white again, as it is on a scan. The median, not the
    brightest: a lamp's white glare on part of the sheet leaves the cast on the rest of it."""
    x0, y0, x1, y1 = L.GRID_BOX
    px = page[y0:y1:4, x0:x1:4].reshape(-1, 3).astype(np.float32)
    grey = px.mean(axis=1)
    paper = np.median(px[grey >= np.percentile(grey, 60)], axis=0)
    gain = 255.0 / np.clip(paper, 40.0, 255.0)
    if np.all(np.abs(gain - 1.0) < 0.02):
        return page
    lut = np.clip(np.arange(256, dtype=np.float32)[:, None] * gain[None, :], 0, 255).astype(np.uint8)
    return np.stack([cv2.LUT(page[..., c], lut[:, c]) for c in range(3)], axis=-1)


def _no_sheet(image: np.ndarray) -> Sheet:
    page = cv2.resize(image, (L.PAGE_W, L.PAGE_H), interpolation=cv2.INTER_AREA)
    return Sheet(page=page, method="none", corners=None, rotation=0, score=0.0)


def _judge(image: np.ndarray, sheet: Sheet, h: np.ndarray) -> Sheet:
    """Attach the reason a found sheet cannot be read well, if there is one."""
    from dataclasses import replace

    c = sheet.corners
    long_side = max(np.linalg.norm(c[1] - c[0]), np.linalg.norm(c[2] - c[3]))
    if sheet.score < MIN_SCORE:
        # an ECG-like structure was not found: leave it to the ECG check, unless the frame cut it or
        # the best outline is a small patch of the picture (a texture's lines upscaled can pass for
        # traces: bricks' mortar)
        if sheet.score > 0.1 and _grid_box_part_inside(h, image.shape) < 0.9:
            return replace(sheet, problem="cut_off", problem_detail="part of the sheet is outside the picture")
        if long_side < MIN_PAGE_PX:
            return replace(sheet, problem="no_sheet", problem_detail=f"no ECG-like sheet (structure score "
                           f"{sheet.score:.2f}) of a readable size ({long_side:.0f} px wide)")
        return sheet
    if _grid_box_part_inside(h, image.shape) < 0.97:
        return replace(sheet, problem="cut_off", problem_detail="part of the sheet is outside the picture")
    if long_side < MIN_PAGE_PX:
        return replace(sheet, problem="sheet_too_small",
                       problem_detail=f"the sheet is {long_side:.0f} px wide in the picture (needs {MIN_PAGE_PX})")
    x0, y0, x1, y1 = L.GRID_BOX
    paper = float(np.percentile(cv2.cvtColor(sheet.page[y0:y1:4, x0:x1:4], cv2.COLOR_RGB2GRAY), 75))
    if paper < MIN_PAPER_LEVEL:
        return replace(sheet, problem="too_dark", problem_detail=f"the paper's grey level is {paper:.0f} of 255")
    sharp = _sharpness(sheet.page)
    if sharp < MIN_SHARPNESS:
        return replace(sheet, problem="blurred", problem_detail=f"stroke sharpness {sharp:.2f} (needs {MIN_SHARPNESS})")
    return sheet
