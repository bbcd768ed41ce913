"""The heat map: the image model's class-activation maps of the diagnosed class, laid over the page.

`inference.classifier.Classifier.probabilities_and_cams` gives one map per lead crop; `overlay_png` pastes
each back where its crop came from, blends a colour map over the page, and outlines the leads where the
signs behind the diagnosis were measured (`inference.explain.marked_leads`).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from inference import layout as L
from inference import preprocess

MARK_RGB = (255, 0, 255)  # magenta: apart from the jet colour map's blue-to-red and the pink grid


def lead_box(name: str) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of a lead's window on the canonical page ("rhythm": the strip's 10 s)."""
    if name == "rhythm":
        row, t0, t1 = L.RHYTHM_ROW, 0.0, L.DURATION_S
    else:
        row, _, t0 = L.lead_window(name)
        t1 = t0 + L.SEGMENT_S
    y = L.BASELINE_Y[row]
    return L.x_of_time(t0), y - 0.55 * L.ROW_PITCH, L.x_of_time(t1), y + 0.4 * L.ROW_PITCH


def overlay_png(prep: preprocess.Prepared, cams: np.ndarray, max_width: int = 1000,
                marked: list[str] | tuple[str, ...] = ()) -> bytes:
    """Paste each crop's CAM back onto the page where the crop came from, blend a colour map, and outline
    the `marked` leads (names of inference.layout.LEADS, or "rhythm")."""
    from PIL import ImageDraw

    from matplotlib import colormaps

    f = min(1.0, max_width / prep.page.shape[1])  # work at the output size: cheaper
    page = np.asarray(Image.fromarray(prep.page).resize((round(prep.page.shape[1] * f), round(prep.page.shape[0] * f)),
                                                        Image.BILINEAR)).astype(np.float32)
    x0, y0, x1, y1 = (v * f for v in prep.box)
    ah, aw = preprocess.area_size()
    sx, sy = (x1 - x0) / aw, (y1 - y0) / ah
    heat = np.zeros(page.shape[:2], np.float32)
    for cam, (cx0, cy0, cx1, cy1) in zip(cams, preprocess.crop_boxes(ah, aw)):
        px0, py0 = int(x0 + cx0 * sx), int(y0 + cy0 * sy)
        pw, ph = max(1, int((cx1 - cx0) * sx)), max(1, int((cy1 - cy0) * sy))
        up = np.asarray(Image.fromarray(cam.astype(np.float32)).resize((pw, ph), Image.BILINEAR))
        region = heat[py0:py0 + ph, px0:px0 + pw]
        np.maximum(region, up[: region.shape[0], : region.shape[1]], out=region)
    rgb = colormaps["jet"](heat)[..., :3] * 255
    alpha = (0.55 * heat)[..., None]
    out = Image.fromarray((page * (1 - alpha) + rgb * alpha).astype(np.uint8))
    fx, fy = out.width / L.PAGE_W, out.height / L.PAGE_H  # the page is the canonical one, maybe scaled
    draw = ImageDraw.Draw(out)
    for name in marked:
        bx0, by0, bx1, by1 = lead_box(name)
        draw.rectangle((bx0 * fx, by0 * fy, bx1 * fx, by1 * fy), outline=MARK_RGB, width=max(2, round(4 * fx)))
    buf = io.BytesIO()
    out.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()
