"""The heat map: the image model's class-activation maps of the diagnosed class, laid over the page.

`inference.classifier.Classifier.probabilities_and_cams` gives one map per lead crop; `overlay_png` pastes
each back where its crop came from and blends a colour map over the page.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from inference import preprocess


def overlay_png(prep: preprocess.Prepared, cams: np.ndarray, max_width: int = 1000) -> bytes:
    """Paste each crop's CAM back onto the page where the crop came from and blend a colour map."""
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
    out = (page * (1 - alpha) + rgb * alpha).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(out).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()
