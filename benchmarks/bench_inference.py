"""Inference benchmark (not a test): cold start, latency p50/p95, throughput, peak RSS.

    python benchmarks/bench_inference.py [--images DIR] [--n 30] [--json OUT]

Measures in one process:
  * cold start: interpreter start -> first `get_classifier()` returned (imports + model build + load);
  * per-image latency of decode + preprocess + ECG check + predict (`classify`), and with the heat map
    (`heatmap_png`), p50/p95 over --n images; `classify` also on 10 photo-like copies of them;
  * the bot's whole path (`inference.analysis.analyse`: sheet, digitize, measure, classify, heat map) and
    the reading alone (`read_ecg`, what `ecg-bot digitize` runs), p50 over 10 pages;
  * throughput at batch 1 (sequential classify) and batch 8 (8 pages' crops in one forward pass);
  * a bare ResNet50 forward pass of the same input batch (16 crops) for the ratio;
  * peak RSS of the process (ru_maxrss).
Images: the test split from ../shared when present, else synthetic pages.
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _images(n: int, folder: str | None) -> list[bytes]:
    if folder:
        files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
        return [f.read_bytes() for f in files[:n]]
    from training import data

    try:
        items = data.discover()
        test = data.get_split(items)["test"]
        return [it.path.read_bytes() for it in test[:n]]
    except FileNotFoundError:
        from training.synthetic import page_bytes

        return [page_bytes(i % 4, i) for i in range(n)]


def pct(xs, q):
    import numpy as np

    return float(np.percentile(np.asarray(xs) * 1000, q))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", default=None)
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()

    from inference.analysis import classify, heatmap_png
    from inference.classifier import get_classifier

    clf = get_classifier()
    cold = time.perf_counter() - T_START
    import numpy as np

    from inference import preprocess as P

    imgs = _images(a.n, a.images)
    classify(imgs[0])  # warm-up
    lat = []
    for b in imgs:
        t = time.perf_counter()
        classify(b)
        lat.append(time.perf_counter() - t)
    t = time.perf_counter()
    heatmap_png(imgs[0])  # first call reported separately (it used to trace a gradient graph)
    heat_first = time.perf_counter() - t
    heat = []
    for b in imgs[: max(10, a.n // 2)]:
        t = time.perf_counter()
        heatmap_png(b)
        heat.append(time.perf_counter() - t)
    # batch 8: 8 pages' crops in one forward pass (preprocessing included)
    t = time.perf_counter()
    rounds = max(1, len(imgs) // 8)
    for r in range(rounds):
        batch = imgs[r * 8:(r + 1) * 8]
        crops = np.concatenate([P.prepare(b).crops for b in batch])
        clf.predict_crops(crops)
    thr8 = rounds * 8 / (time.perf_counter() - t)
    # bare forward pass of one page's 16 crops
    x = np.random.rand(P.N_CROPS, *P.CROP_SIZE, 1).astype(np.float32)
    fw = []
    for _ in range(10):
        t = time.perf_counter()
        clf.predict_crops(x)
        fw.append(time.perf_counter() - t)
    # photo-like copies (training.augment.photo_distort): their grid is usually not seen, so they are
    # straightened and placed from their traces first
    import io

    from PIL import Image

    from training.augment import photo_distort

    photos = []
    for i, b in enumerate(imgs[:10]):
        buf = io.BytesIO()
        Image.fromarray(photo_distort(P.load_page(b), np.random.default_rng(i))).save(buf, "JPEG", quality=90)
        photos.append(buf.getvalue())
    photo_lat = []
    for b in photos:
        t = time.perf_counter()
        classify(b)
        photo_lat.append(time.perf_counter() - t)
    # the bot's path (inference.analysis.analyse: read the sheet, digitize, measure, classify, heat map)
    # and the reading alone (`ecg-bot digitize`), on the clean pages and on the photo-like copies
    from inference.analysis import analyse
    from inference.reading import read_ecg

    bot_lat, bot_photo_lat, read_lat, read_ok = [], [], [], 0
    for b in imgs[:10]:
        t = time.perf_counter()
        analyse(b)
        bot_lat.append(time.perf_counter() - t)
        t = time.perf_counter()
        read_ok += read_ecg(b).ok
        read_lat.append(time.perf_counter() - t)
    for b in photos:
        t = time.perf_counter()
        analyse(b)
        bot_photo_lat.append(time.perf_counter() - t)
    # preprocessing alone
    pre = []
    for b in imgs[:10]:
        t = time.perf_counter()
        P.prepare(b)
        pre.append(time.perf_counter() - t)
    res = {
        "images": len(imgs),
        "cold_start_s": round(cold, 2),
        "classify_ms_p50": round(pct(lat, 50), 1),
        "classify_ms_p95": round(pct(lat, 95), 1),
        "heatmap_first_call_ms": round(heat_first * 1000, 1),
        "heatmap_ms_p50": round(pct(heat, 50), 1),
        "heatmap_ms_p95": round(pct(heat, 95), 1),
        "preprocess_ms_p50": round(pct(pre, 50), 1),
        "classify_photo_like_ms_p50": round(pct(photo_lat, 50), 1),
        "classify_photo_like_ms_p95": round(pct(photo_lat, 95), 1),
        "analyse_ms_p50": round(pct(bot_lat, 50), 1),
        "analyse_ms_p95": round(pct(bot_lat, 95), 1),
        "analyse_photo_like_ms_p50": round(pct(bot_photo_lat, 50), 1),
        "read_ecg_ms_p50": round(pct(read_lat, 50), 1),
        "read_ecg_ok": f"{read_ok}/{len(read_lat)}",
        "bare_resnet50_forward_16_crops_ms_p50": round(pct(fw, 50), 1),
        "ratio_classify_to_bare_forward": round(pct(lat, 50) / pct(fw, 50), 2),
        "throughput_batch1_img_per_s": round(len(lat) / sum(lat), 2),
        "throughput_batch8_img_per_s": round(thr8, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(res, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
