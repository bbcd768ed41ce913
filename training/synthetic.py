"""Synthetic pages in the dataset's print layout, for tests and benchmarks when ../shared is absent.

Not realistic ECGs: a pink grid, a header/footer and 12 leads + rhythm strip of a simple beat
template whose shape depends on the class index, so a smoke test has something learnable.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

from inference import preprocess as P


def beat(t: np.ndarray, cls: int, rate: float) -> np.ndarray:
    ph = (t * rate / 60.0) % 1.0
    qrs = np.exp(-((ph - 0.3) / 0.012) ** 2) * (1.0 if cls != 0 else 0.6)
    twave = np.exp(-((ph - 0.55) / 0.05) ** 2) * (0.25 if cls != 2 else -0.2)
    st = (0.15 if cls == 0 else 0.0) * ((ph > 0.32) & (ph < 0.5))
    p = np.exp(-((ph - 0.15) / 0.03) ** 2) * 0.12
    return p + qrs + twave + st


def page_array(cls: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w, h = 1600, 1137
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    x0, y0, x1, y1 = P.DEFAULT_BOX
    for k, x in enumerate(np.arange(x0, x1, 6.1)):
        d.line([(x, y0), (x, y1)], fill=(245, 200, 200) if k % 5 else (235, 150, 150), width=1)
    for k, y in enumerate(np.arange(y0, y1, 6.1)):
        d.line([(x0, y), (x1, y)], fill=(245, 200, 200) if k % 5 else (235, 150, 150), width=1)
    d.rectangle([x0, y0, x1, y1], outline=(235, 140, 140), width=2)
    d.text((60, 40), f"ID : {rng.integers(100000, 999999)}   ECG REPORT", fill="black")
    d.text((60, 1110), f"25mm/s 10mm/mV  HR {rng.integers(50, 120)}", fill="black")
    rate = {0: 80, 1: 130, 2: 70, 3: 65}[cls % 4] * rng.uniform(0.9, 1.1)
    bw, bh = x1 - x0, y1 - y0
    for r, yc in enumerate(P.ROW_CENTRES):
        xs = np.arange(int(x0 + P.INK_LEFT * bw), int(x0 + P.INK_RIGHT * bw))  # where real traces run
        t = (xs - xs[0]) / (6.1 * 25) + rng.uniform(0, 1)
        v = beat(t, cls % 4, rate) * rng.uniform(0.8, 1.2) + rng.normal(0, 0.01, t.size)
        ys = y0 + yc * bh - v * 60
        d.line(list(zip(xs.tolist(), ys.tolist())), fill="black", width=2)
    return np.asarray(img)


def page_bytes(cls: int, seed: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(page_array(cls, seed)).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def write_dataset(root, per_class: int = 3, seed: int = 0) -> None:
    """root/<MI|HB|PMI|Normal>/<n>.jpg"""
    from pathlib import Path

    for c, folder in enumerate(("MI", "HB", "PMI", "Normal")):
        d = Path(root) / folder
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            (d / f"{folder}({i + 1}).jpg").write_bytes(page_bytes(c, seed * 1000 + c * 100 + i))
