"""Augmentations that simulate a phone photo of a paper printout, plus cheap crop-level jitter.

`photo_distort` works on the whole page before preprocessing, so the grid finder and crop layout see
what they would see at serving time. It is also how the evaluation makes its distorted test copies.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter


def _perspective_coeffs(src, dst):
    """Coefficients for PIL's PERSPECTIVE transform mapping dst quad -> src quad."""
    a = []
    for (x, y), (u, v) in zip(dst, src):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    b = np.array(src, dtype=np.float64).reshape(8)
    return np.linalg.solve(np.array(a, dtype=np.float64), b).tolist()


def photo_distort(page: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Perspective, rotation, crop/scale, uneven light and shadow, colour cast, blur, noise, JPEG.

    strength 1.0 is a careful but imperfect phone photo (the page fills the frame, a few degrees of
    tilt); the magnitudes were chosen so the grid rectangle stays in view.
    """
    s = float(strength)
    img = Image.fromarray(page)
    w, h = img.size
    paper = (int(rng.integers(225, 256)),) * 3

    # Perspective + small rotation + scale/shift in one projective warp.
    ang = np.deg2rad(rng.uniform(-3.0, 3.0) * s)
    scale = 1.0 + rng.uniform(-0.04, 0.04) * s
    cx, cy = w / 2 + rng.uniform(-0.015, 0.015) * w * s, h / 2 + rng.uniform(-0.015, 0.015) * h * s
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)
    jitter = rng.uniform(-0.025, 0.025, size=(4, 2)) * np.array([w, h]) * s
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    dst = (corners - [w / 2, h / 2]) @ rot.T * scale + [cx, cy] + jitter
    img = img.transform((w, h), Image.PERSPECTIVE, _perspective_coeffs(corners.tolist(), dst.tolist()),
                        resample=Image.BILINEAR, fillcolor=paper)

    arr = np.asarray(img).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # Uneven light: a linear gradient and a soft bright/dark blob.
    gx, gy = rng.uniform(-0.25, 0.25, 2) * s
    light = 1.0 + gx * (xx / w - 0.5) + gy * (yy / h - 0.5)
    bx, by, br = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.2, 0.6) * w
    light += rng.uniform(-0.15, 0.15) * s * np.exp(-((xx - bx) ** 2 + (yy - by) ** 2) / (2 * br ** 2))
    # Shadow: a soft-edged half plane (a hand or a phone over the paper).
    if rng.random() < 0.5 * min(1.0, s):
        theta = rng.uniform(0, 2 * np.pi)
        d = (xx - rng.uniform(0, w)) * np.cos(theta) + (yy - rng.uniform(0, h)) * np.sin(theta)
        edge = 1.0 / (1.0 + np.exp(-d / rng.uniform(10, 60)))
        light *= 1.0 - rng.uniform(0.1, 0.35) * edge
    cast = 1.0 + rng.uniform(-0.08, 0.08, 3) * s
    arr = arr * light[..., None] * cast
    arr += rng.normal(0, rng.uniform(0, 6) * s, arr.shape)
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))

    # Camera resolution, blur and JPEG re-compression.
    down = rng.uniform(0.6, 1.0)
    if down < 0.95:
        img = img.resize((int(w * down), int(h * down)), Image.BILINEAR).resize((w, h), Image.BILINEAR)
    blur = rng.uniform(0, 1.2) * s
    if blur > 0.2:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=int(rng.integers(35, 90)))
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def jitter_crops(crops: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cheap per-step augmentation of ink crops (N, H, W, 1): shift, contrast, line weight, noise."""
    out = np.empty_like(crops)
    n, h, w, _ = crops.shape
    for i in range(n):
        c = crops[i, ..., 0]
        dy, dx = rng.integers(-6, 7), rng.integers(-10, 11)
        c = np.roll(c, (dy, dx), axis=(0, 1))
        if rng.random() < 0.3:  # thicker/thinner trace
            c = np.maximum(c, np.roll(c, 1, axis=0)) if rng.random() < 0.5 else c * rng.uniform(0.6, 1.0)
        c = c * rng.uniform(0.8, 1.2) + rng.normal(0, 0.03, c.shape)
        out[i, ..., 0] = np.clip(c, 0, 1)
    return out
