"""Read every page (and its phone-photo copy) once, and keep the readings outside git.

Reading a page takes about a second; `training.measure_model` reads all 418 pages and a rendered photo
of each, and the feature code changes more often than the digitizer. So the (Digitized, Measurements) pair of
each picture is pickled under `~/.cache/ecg-analyzer/readings/`, keyed by the picture's sha256 and a
hash of the reading code's sources: a change to the digitizer re-reads, a change to the features does
not. A picture the reading refuses is stored as its refusal reason (a string).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from training.data import REPO_ROOT

CACHE_DIR = Path(os.environ.get("ECG_CACHE_DIR", Path.home() / ".cache" / "ecg-analyzer"))
_READING_SOURCES = ("image_io", "sheet", "ecg_check", "preprocess", "grid", "digitize", "measure",
                    "reading", "signals", "layout")
PHOTO_SEED0 = 9100  # photo seed of test page i is PHOTO_SEED0 + i


def source_hash(modules: tuple[str, ...] = _READING_SOURCES, extra: tuple[Path, ...] = ()) -> str:
    """sha256 (16 hex) over the source files whose change must invalidate the cache."""
    h = hashlib.sha256()
    for m in modules:
        h.update((REPO_ROOT / "inference" / f"{m}.py").read_bytes())
    for p in extra:
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:16]


def _read_one(job: tuple[str, str, int | None]) -> object:
    """(path, sha, photo seed or None) -> (Digitized, Measurements) or the refusal reason."""
    from inference.reading import read_ecg

    path, _, seed = job
    if seed is None:
        r = read_ecg(path)
    else:
        from inference.image_io import load_image
        from training.photo_render import render_photo

        r = read_ecg(render_photo(load_image(path), seed).jpeg)
    return (r.digitized, r.measurements) if r.ok else str(r.reason)


def readings(jobs: list[tuple[str, str, int | None]], workers: int = 2, log=print) -> list[object]:
    """The cached reading of every job, computing the missing ones on at most `workers` processes."""
    photo = source_hash(extra=(REPO_ROOT / "training" / "photo_render.py",))
    plain = source_hash()
    out_dir = CACHE_DIR / "readings"
    out_dir.mkdir(parents=True, exist_ok=True)

    def key(job) -> Path:
        _, sha, seed = job
        return out_dir / (f"{sha[:24]}-{plain}.pkl" if seed is None else f"{sha[:24]}-p{seed}-{photo}.pkl")

    todo = [j for j in jobs if not key(j).exists()]
    if todo:
        log(f"reading {len(todo)} of {len(jobs)} pictures on {workers} workers ...")
        from tqdm.auto import tqdm

        # spawned, not forked: a process that has TensorFlow's threads running (training.stacking reads the
        # test pages after fitting) cannot be forked safely (the pool broke)
        with ProcessPoolExecutor(max(1, min(2, workers)), mp_context=multiprocessing.get_context("spawn")) as ex:
            done = ex.map(_read_one, todo, chunksize=2)
            for job, res in tqdm(zip(todo, done), total=len(todo), desc="reading pictures", mininterval=5):
                key(job).write_bytes(pickle.dumps(res))
    return [pickle.loads(key(j).read_bytes()) for j in jobs]
