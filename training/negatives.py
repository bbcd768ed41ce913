"""Non-ECG images available offline, for measuring the refusal check.

Two groups:
  * library: every bundled sample image of scikit-image, scikit-learn and matplotlib (no downloads),
    each also as a landscape A4-shaped crop so the aspect-ratio rule alone cannot refuse it;
  * generated: text pages, blank/lined/graph-paper sheets, app screenshots and chart screenshots
    rendered here with PIL and matplotlib, with a seed.
"""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SKIMAGE_NAMES = ("astronaut", "brick", "camera", "cat", "cell", "chelsea", "clock", "coffee", "coins", "colorwheel",
                 "grass", "gravel", "horse", "hubble_deep_field", "immunohistochemistry", "logo", "microaneurysms",
                 "moon", "page", "retina", "rocket", "text", "checkerboard", "binary_blobs", "shepp_logan_phantom",
                 "stereo_motorcycle")


def _rgb(a) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype != np.uint8:
        a = a.astype(np.float64)
        a = (255 * (a - a.min()) / max(1e-9, a.max() - a.min())).astype(np.uint8)
    if a.ndim == 2:
        a = np.stack([a] * 3, axis=-1)
    return a[..., :3]


def _landscape(a: np.ndarray) -> np.ndarray:
    h, w = a.shape[:2]
    if w / h >= 1.41:
        nw = int(h * 1.41)
        return a[:, (w - nw) // 2:(w - nw) // 2 + nw]
    nh = int(w / 1.41)
    return a[(h - nh) // 2:(h - nh) // 2 + nh]


def library_images() -> list[tuple[str, np.ndarray]]:
    out = []
    import skimage.data as sd

    for name in SKIMAGE_NAMES:
        try:
            img = getattr(sd, name)()
            if isinstance(img, tuple):  # stereo_motorcycle: (left, right, disparity)
                img = img[0]
        except Exception:  # an image that would need a download: skip, never fetch
            continue
        out.append((f"skimage:{name}", _rgb(img)))
    try:
        from sklearn.datasets import load_sample_images

        ds = load_sample_images()
        for fname, img in zip(ds.filenames, ds.images):
            out.append((f"sklearn:{os.path.basename(fname)}", _rgb(img)))
    except Exception:
        pass
    try:
        import matplotlib

        d = os.path.join(matplotlib.get_data_path(), "sample_data")
        for fname in ("grace_hopper.jpg", "logo2.png", "Minduka_Present_Blue_Pack.png"):
            p = os.path.join(d, fname)
            if os.path.exists(p):
                out.append((f"matplotlib:{fname}", np.asarray(Image.open(p).convert("RGB"))))
    except Exception:
        pass
    out += [(f"{n} (A4 crop)", _landscape(a)) for n, a in out if min(a.shape[:2]) >= 64]
    return out


WORDS = ("patient heart rate rhythm report lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod "
         "tempor incididunt ut labore et dolore magna aliqua invoice total amount date signature page chapter the "
         "of and to in is for on with as by").split()


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def text_page(rng, landscape: bool) -> np.ndarray:
    w, h = (1600, 1131) if landscape else (1131, 1600)
    img = Image.new("RGB", (w, h), tuple(int(v) for v in rng.integers(235, 256, 3)))
    d = ImageDraw.Draw(img)
    size = int(rng.integers(14, 34))
    f = _font(size)
    y = int(rng.integers(40, 120))
    while y < h - 60:
        line = " ".join(rng.choice(WORDS, size=int(rng.integers(4, 40))))
        d.text((int(rng.integers(40, 120)), y), line, fill=(20, 20, 20), font=f)
        y += int(size * rng.uniform(1.2, 2.2))
    return np.asarray(img)


def blank_sheet(rng, kind: str) -> np.ndarray:
    w, h = 1600, 1131
    base = np.full((h, w, 3), rng.integers(200, 256), dtype=np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    base *= (1 + rng.uniform(-0.15, 0.15) * (xx / w - 0.5) + rng.uniform(-0.15, 0.15) * (yy / h - 0.5))[..., None]
    base += rng.normal(0, 3, base.shape)
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    if kind == "lined":
        for y in range(80, h, int(rng.integers(30, 50))):
            d.line([(0, y), (w, y)], fill=(150, 170, 220), width=2)
    elif kind == "graph":  # graph paper, even pink ECG-like grid, but no traces
        step = int(rng.integers(8, 16))
        col = (240, 170, 170) if rng.random() < 0.5 else (150, 200, 150)
        for x in range(0, w, step):
            d.line([(x, 0), (x, h)], fill=col, width=2 if (x // step) % 5 == 0 else 1)
        for y in range(0, h, step):
            d.line([(0, y), (w, y)], fill=col, width=2 if (y // step) % 5 == 0 else 1)
    return np.asarray(img)


def screenshot(rng, kind: str) -> np.ndarray:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w, h = (1280, 720) if rng.random() < 0.5 else (1600, 900)
    if kind == "app":
        img = Image.new("RGB", (w, h), tuple(int(v) for v in rng.integers(200, 256, 3)))
        d = ImageDraw.Draw(img)
        d.rectangle([0, 0, w, 60], fill=tuple(int(v) for v in rng.integers(0, 160, 3)))
        for i in range(int(rng.integers(4, 12))):
            x0, y0 = int(rng.integers(0, w - 200)), int(rng.integers(70, h - 100))
            d.rectangle([x0, y0, x0 + int(rng.integers(100, 500)), y0 + int(rng.integers(40, 200))],
                        fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
            d.text((x0 + 10, y0 + 10), " ".join(rng.choice(WORDS, 4)), fill=(0, 0, 0), font=_font(20))
        return np.asarray(img)
    fig = plt.figure(figsize=(w / 100, h / 100), dpi=100)
    t = np.linspace(0, 10, 800)
    if kind == "lines":  # several time series: the most ECG-like negative
        ax = fig.add_subplot(111)
        for k in range(int(rng.integers(2, 5))):
            ax.plot(t, np.cumsum(rng.normal(0, 1, t.size)) + 20 * k)
        ax.grid(True)
    else:  # bars + pie dashboard
        ax = fig.add_subplot(121)
        ax.bar(range(8), rng.uniform(1, 10, 8), color=plt.cm.tab10(np.arange(8)))
        ax2 = fig.add_subplot(122)
        ax2.pie(rng.uniform(1, 5, 5))
    fig.suptitle(" ".join(rng.choice(WORDS, 3)))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def generated_images(seed: int = 7, n_each: int = 4) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_each):
        out.append((f"gen:text-page-landscape-{i}", text_page(rng, True)))
        out.append((f"gen:text-page-portrait-{i}", text_page(rng, False)))
        for kind in ("blank", "lined", "graph"):
            out.append((f"gen:{kind}-sheet-{i}", blank_sheet(rng, kind)))
        for kind in ("app", "lines", "charts"):
            out.append((f"gen:screenshot-{kind}-{i}", screenshot(rng, kind)))
    return out


def to_jpeg(a: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
