"""The one preprocessing path shared by training, evaluation and serving.

    bytes/path -> page (EXIF-upright RGB, 1600 px wide)
               -> a photo whose pink grid is not found is turned level (`straighten`) and its grid
                  rectangle placed from the traces (`box_from_ink`)
               -> trace area (the pink grid rectangle; printed header and footer are outside it)
               -> ink map (red channel divided by its local background: the black trace stays,
                  the pink grid and uneven light go away)
               -> 16 lead crops (12 leads in the 3x4 grid + the rhythm strip in 4 segments)

The print layout of this dataset is fixed (one ECG machine), so the leads sit at fixed fractions of
the grid rectangle. The model sees one lead crop at a time; the lead head (`inference.lead_head`)
turns the 16 crops' features into page probabilities. Nothing outside the grid rectangle (patient ID,
date, printed heart rate) can reach the model.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps
from scipy import ndimage

CANON_W = 1600
# Grid rectangle of the reference layout, in pixels of a 1600 x 1137 page.
DEFAULT_BOX = (50, 205, 1573, 1097)  # x0, y0, x1, y1
# Lead cells, as fractions of the grid rectangle.
COL_EDGES = (0.0328, 0.2725, 0.5062, 0.7393, 0.9783)
ROW_CENTRES = (0.1435, 0.3857, 0.6278, 0.8688)
ROW_HALF = 0.125
COL_MARGIN = 0.006
# Lead names in crop order (row-major: 3 rows of 4 leads, then the rhythm strip in 4 pieces).
LEAD_NAMES = ("I", "aVR", "V1", "V4", "II", "aVL", "V2", "V5", "III", "aVF", "V3", "V6",
              "rhythm-1", "rhythm-2", "rhythm-3", "rhythm-4")
N_CROPS = len(LEAD_NAMES)
# Bumped whenever `prepare` gives different crops for the same image (training caches are keyed by it).
VERSION = 2  # 2: photos are straightened and placed from their traces when the pink grid is not seen
# Model input per crop (height, width); the trace area is resampled to AREA_SIZE first.
CROP_SIZE = (64, 112)


class NotAnImage(ValueError):
    """The bytes could not be decoded as an image."""


@dataclass(frozen=True)
class Prepared:
    page: np.ndarray  # uint8 RGB page, CANON_W wide
    box: tuple[int, int, int, int]  # grid rectangle in page pixels
    box_found: bool  # False when the default layout box was used
    crops: np.ndarray  # float32 (N_CROPS, H, W, 1), ink in [0, 1]
    area: np.ndarray | None = None  # float32 ink map of the whole grid rectangle (area_size())


def load_page(data: bytes | str | Image.Image) -> np.ndarray:
    """Decode, apply EXIF orientation, convert to RGB and scale to CANON_W wide (aspect kept)."""
    if isinstance(data, Image.Image):
        img = data
    else:
        try:
            img = Image.open(io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data)
            img.load()
        except Exception as exc:  # PIL raises many types for corrupt/non-image input
            raise NotAnImage(f"cannot decode image: {exc.__class__.__name__}") from exc
    img = ImageOps.exif_transpose(img)
    img = img.convert("RGB")
    if img.width != CANON_W:
        h = max(1, round(img.height * CANON_W / img.width))
        img = img.resize((CANON_W, h), Image.BILINEAR)
    return np.asarray(img)


def pink_mask(page: np.ndarray) -> np.ndarray:
    """Pixels of the red/pink ECG grid (red clearly above green and blue, not dark)."""
    rgb = page.astype(np.int16)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return (r > 120) & (r - g > 22) & (r - b > 12)


# Where the traces end inside the grid rectangle, as fractions of its width (measured on 49 clean training
# pages: sd 0.0007 and 0.0017; `python -m training.studies.ink_extent` re-measures them), used to place the
# rectangle from the ink when the pink cannot be seen.
INK_LEFT, INK_RIGHT = 0.0106, 0.9717
INK_SCALE = 4  # the ink-based geometry works on a quarter-size page


def _small_ink(page: np.ndarray) -> np.ndarray:
    h, w = page.shape[:2]
    return ink_map(np.asarray(Image.fromarray(page).resize((w // INK_SCALE, h // INK_SCALE), Image.BILINEAR)))


def tilt_degrees(page: np.ndarray) -> float:
    """The rotation (multiple of 0.25 degrees, within +-4) that makes the four trace rows horizontal: the
    angle whose row projection of the ink is sharpest. Whole degrees first, then quarter degrees around the
    best (the same answer as trying every quarter degree on 80 of 80 photo-like pages, in half the time:
    `python -m training.studies.tilt_search`)."""
    ink = _small_ink(page)

    def sharpness(angle: float) -> float:
        rows = ndimage.rotate(ink, angle, reshape=False, order=1).sum(axis=1)
        return float((rows ** 2).sum())

    coarse = max(np.arange(-4.0, 4.01, 1.0), key=sharpness)
    fine = [a for a in np.arange(coarse - 0.75, coarse + 0.76, 0.25) if -4.0 <= a <= 4.0]
    return float(max(fine, key=sharpness))


def box_from_ink(page: np.ndarray) -> tuple[int, int, int, int] | None:
    """The grid rectangle placed from the traces: the four trace rows sit at ROW_CENTRES of its height, the
    traces span INK_LEFT..INK_RIGHT of its width. For photos, whose faint and blurred pink grid the pink
    mask misses. None when the result is implausible."""
    ink = _small_ink(page)
    f = INK_SCALE
    ref_w, ref_h = DEFAULT_BOX[2] - DEFAULT_BOX[0], DEFAULT_BOX[3] - DEFAULT_BOX[1]
    rows = ndimage.gaussian_filter1d(ink.sum(axis=1), 2)
    centres = np.array(ROW_CENTRES)
    best = (-1.0, 0.0, 0.0)
    for hh in np.arange(0.88 * ref_h / f, 1.12 * ref_h / f, 1.0):
        y0s = np.arange(0, len(rows) - hh)
        if len(y0s) == 0:  # a page too short for a grid this tall
            continue
        idx = (y0s[:, None] + centres[None, :] * hh).round().astype(int)
        scores = rows[idx].sum(axis=1)
        k = int(scores.argmax())
        if scores[k] > best[0]:
            best = (float(scores[k]), float(y0s[k]), float(hh))
    score, y0, hh = best
    if score <= 0:
        return None
    band = ink[int(y0 + 0.02 * hh): int(y0 + 0.98 * hh)]
    cols = ndimage.uniform_filter1d(band.sum(axis=0), 5)
    if not (cols > 0).any():
        return None
    on = np.where(cols > 0.3 * np.median(cols[cols > 0]))[0]
    ww = (on[-1] - on[0]) / (INK_RIGHT - INK_LEFT)
    x0 = on[0] - INK_LEFT * ww
    if not (0.88 * ref_w / f < ww < 1.12 * ref_w / f and 0.5 < hh / ww < 0.68):
        return None
    h, w = page.shape[:2]
    x0, y0, x1, y1 = (int(round(v * f)) for v in (x0, y0, x0 + ww, y0 + hh))
    return max(0, x0), max(0, y0), min(w, x1), min(h, y1)


def straighten(page: np.ndarray) -> np.ndarray:
    """The page turned so its trace rows are horizontal (for a photo whose pink grid was not found)."""
    angle = tilt_degrees(page)
    if angle == 0.0:
        return page
    return np.asarray(Image.fromarray(page).rotate(angle, resample=Image.BILINEAR, fillcolor=(255, 255, 255)))


def find_grid_box(page: np.ndarray, use_ink: bool = True) -> tuple[tuple[int, int, int, int], bool]:
    """Find the grid rectangle from the pink mask's row/column projections.

    The rectangle's border and major grid lines are long pink runs; the outermost ones give the box.
    When they are not visible (a photo), the box is placed from the traces (`box_from_ink`); failing
    both, the reference layout is used.
    """
    h, w = page.shape[:2]
    b = 8  # block size: every 8x8 block inside the grid holds some pink dot or line
    full = pink_mask(page)
    sh, sw = h // b, w // b
    mask = full[: sh * b, : sw * b].reshape(sh, b, sw, b).any(axis=(1, 3))
    rows = np.where(mask.mean(1) > 0.25)[0]
    cols = np.where(mask.mean(0) > 0.25)[0]
    if len(rows) >= 2 and len(cols) >= 2:
        x0, x1 = cols[0] * b, min(w, cols[-1] * b + b)
        y0, y1 = rows[0] * b, min(h, rows[-1] * b + b)
        bw, bh = x1 - x0, y1 - y0
        # the reference grid is 1523 x 892 (h/w 0.586): a much taller "box" means the whole page looked pink
        if bw > 0.6 * w and 0.48 * bw < bh < 0.69 * bw:
            return (int(x0), int(y0), int(x1), int(y1)), True
    if use_ink and (box := box_from_ink(page)) is not None:
        return box, True
    x0, y0, x1, y1 = DEFAULT_BOX
    return (x0, min(y0, h - 2), x1, min(y1, h)), False


def ink_map(area_rgb: np.ndarray) -> np.ndarray:
    """Trace darkness in [0, 1]: red channel over its local background (grid and shading removed)."""
    red = area_rgb[..., 0].astype(np.float32)
    # Background = local bright level; grey closing removes thin dark lines, blur smooths it.
    # (OpenCV's closing: the same values as scipy's grey_closing with a flat square, 15x faster)
    bg = cv2.morphologyEx(red, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    bg = ndimage.uniform_filter(bg, size=15)
    rel = red / np.maximum(bg, 1.0)
    return np.clip((0.80 - rel) / 0.45, 0.0, 1.0)


def area_size() -> tuple[int, int]:
    """(height, width) the grid rectangle is resampled to so that a lead cell is about CROP_SIZE."""
    ch, cw = CROP_SIZE
    col_w = (COL_EDGES[-1] - COL_EDGES[0]) / 4 + 2 * COL_MARGIN
    return round(ch / (2 * ROW_HALF)), round(cw / col_w)


def crop_boxes(area_h: int, area_w: int) -> list[tuple[int, int, int, int]]:
    """Pixel boxes (x0, y0, x1, y1) of the N_CROPS cells in an area of the given size."""
    ch, cw = CROP_SIZE
    boxes = []
    for r, yc in enumerate(ROW_CENTRES):
        for c in range(4):
            xc = (COL_EDGES[c] + COL_EDGES[c + 1]) / 2 * area_w
            x0 = int(round(xc - cw / 2))
            y0 = int(round(yc * area_h - ch / 2))
            x0 = min(max(x0, 0), area_w - cw)
            y0 = min(max(y0, 0), area_h - ch)
            boxes.append((x0, y0, x0 + cw, y0 + ch))
    return boxes


def trace_area(page: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Ink map of the grid rectangle, resampled to area_size()."""
    x0, y0, x1, y1 = box
    ah, aw = area_size()
    # Measure the ink at 2x the area size (thin lines survive), then average down.
    sub = Image.fromarray(page[y0:y1, x0:x1]).resize((aw * 2, ah * 2), Image.BILINEAR)
    ink = ink_map(np.asarray(sub))
    return ink.reshape(ah, 2, aw, 2).mean(axis=(1, 3)).astype(np.float32)


def crops_from_area(area: np.ndarray) -> np.ndarray:
    ah, aw = area.shape
    out = np.stack([area[y0:y1, x0:x1] for x0, y0, x1, y1 in crop_boxes(ah, aw)])
    return out[..., None].astype(np.float32)


def prepare(data: bytes | str | Image.Image | np.ndarray) -> Prepared:
    """Full preprocessing of one page: the function both training and serving call."""
    page = data if isinstance(data, np.ndarray) else load_page(data)
    box, found = find_grid_box(page, use_ink=False)  # a print or scan: the pink grid, as it is
    if not found:  # a photo: straighten it, then the pink again or else the traces
        page = straighten(page)
        box, found = find_grid_box(page)
    area = trace_area(page, box)
    return Prepared(page=page, box=box, box_found=found, crops=crops_from_area(area), area=area)


def prepare_rectified(page: np.ndarray) -> Prepared:
    """`prepare` for a page the sheet finder has already rectified to the canonical layout: the grid
    rectangle is where the layout puts it, so nothing is searched (the pink of a photo is too faint
    to find reliably, and its position is already known)."""
    box = DEFAULT_BOX
    area = trace_area(page, box)
    return Prepared(page=page, box=box, box_found=True, crops=crops_from_area(area), area=area)


def mask_header_footer(page: np.ndarray, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Copy of the page with everything above and below the grid rectangle painted white.

    Used by the evaluation to show that the printed patient ID / date / heart rate do not matter.
    """
    if box is None:
        box, _ = find_grid_box(page)
    out = page.copy()
    out[: box[1]] = 255
    out[box[3]:] = 255
    return out
