"""The image model's lead crops of every page (and of photo-distorted copies), built once and cached.

Used by the image ResNet50's training (`training.train`), its lead head (`training.lead_head`) and the
studies: one home, so neither training script imports the other.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from inference import preprocess as P
from training import augment, data

RUNS_DIR = data.REPO_ROOT / "runs"


def page_crops(path: str, variant: int, seed: int) -> np.ndarray:
    """Crops of one page: variant 0 is the page itself, variant k > 0 a photo-distorted copy."""
    page = P.load_page(path)
    if variant > 0:
        rng = np.random.default_rng([seed, variant, int.from_bytes(Path(path).name.encode()[:8], "little")])
        page = augment.photo_distort(page, rng)
    return (P.prepare(page).crops * 255).round().astype(np.uint8)  # uint8 keeps the cache small


def _job(args):
    return page_crops(*args)


def build_crops(items: list[data.Item], variants: int, seed: int, workers: int, desc: str,
                cache_dir: str | Path = RUNS_DIR / "cache") -> np.ndarray:
    """uint8 array (pages, variants + 1, 16, H, W, 1), cached by image hash."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    out, todo = [None] * len(items), []
    for i, it in enumerate(items):
        f = cache_dir / f"{it.sha256[:20]}_{variants}_{seed}_{P.CROP_SIZE[0]}x{P.CROP_SIZE[1]}_v{P.VERSION}.npy"
        if f.exists():
            out[i] = np.load(f)
        else:
            todo.append((i, f))
    jobs = [(str(items[i].path), v, seed) for i, _ in todo for v in range(variants + 1)]
    if jobs:
        if workers > 1:
            with ProcessPoolExecutor(workers) as ex:
                res = list(tqdm(ex.map(_job, jobs, chunksize=2), total=len(jobs), desc=desc))
        else:
            res = [_job(j) for j in tqdm(jobs, desc=desc)]
        for k, (i, f) in enumerate(todo):
            out[i] = np.stack(res[k * (variants + 1):(k + 1) * (variants + 1)])
            np.save(f, out[i])
    return np.stack(out)
