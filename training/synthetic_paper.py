"""Synthetic pathology through paper: a labelled synthetic ECG drawn as the product's page, sometimes
photographed, and read back by the product's own reader -- so pre-training sees the digitizer's errors
(lost spans, a lead shifted by a few ms, a stretched row, the blur of a phone photo), not only clean
signals.

    pages, labels = paper_dataset(600, seed=1, photo_share=0.5)   # Digitized pages as read back

Each example is `training.synthetic_pathology.generate(kind, seed)`; `training.page_render.render_page`
draws it (grid, header and footer, calibration pulses, the example's rhythm-strip lead);
`training.photo_render.render_photo` photographs a share of the pages; `inference.reading.read_ecg`
reads the picture. Pages the reader refuses are dropped (and counted): their labels would teach
nothing the served model ever sees.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from content import ecgsynth as es
from inference.signals import Digitized
from training import synthetic_pathology as sp

PAPER_SEED0 = 7_000_000  # the synthetic examples drawn on paper use seeds from here (apart from dataset()'s)


def as_twelve_lead(ex: sp.Example) -> es.TwelveLead:
    """The example as the page renderer's input. Only the signals and the rate matter to the drawing; the
    renderer's ground-truth fields that synthetic_pathology does not track are left empty."""
    return es.TwelveLead(
        params=None, fs=sp.FS, signals=ex.leads, clean=ex.leads, r_times=[], qrs_onsets=[], beat_kinds=[],
        heart_rate=float(ex.heart_rate), pr_ms=None, qrs_ms=float("nan"), qt_ms=float("nan"),
        qtc_bazett_ms=float("nan"), axis_deg=float("nan"), net_axis_deg=float("nan"), st_mv={}, q_mv={}, t_mv={},
        rhythm=ex.kind)


def read_back(job: tuple[str, int, int | None]) -> tuple[Digitized | None, np.ndarray]:
    """(kind, seed, photo seed or None) -> (what the product's reader makes of the example's page or its
    photo, None when it refuses the picture; the example's labels)."""
    from inference.reading import read_ecg
    from training.page_render import render_page
    from training.photo_render import render_photo

    kind, seed, photo_seed = job
    ex = sp.generate(kind, seed)
    page = render_page(as_twelve_lead(ex), rhythm_lead=ex.digitized.rhythm_lead, seed=seed)
    picture = page.image if photo_seed is None else render_photo(page.image, photo_seed).jpeg
    r = read_ecg(picture)
    return (r.digitized if r.ok else None), ex.labels


def paper_dataset(n: int, seed: int = 0, photo_share: float = 0.5, workers: int = 2
                  ) -> tuple[list[Digitized], np.ndarray, int]:
    """(pages read back, their multi-hot labels over sp.LABELS, how many were refused): n examples, the kinds
    in equal shares in a seeded order, a share `photo_share` of them photographed first."""
    rng = np.random.default_rng([seed, 17])
    kinds = [sp.KINDS[i % len(sp.KINDS)] for i in rng.permutation(n)]
    photo = rng.random(n) < photo_share
    jobs = [(k, PAPER_SEED0 + seed * 100_003 + i, (PAPER_SEED0 + i) if photo[i] else None)
            for i, k in enumerate(kinds)]
    # spawned: forking a process where TensorFlow already runs is unsafe (training.readings_cache)
    with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=multiprocessing.get_context("spawn")) as ex:
        read = list(ex.map(read_back, jobs, chunksize=4))
    pages, labels = [], []
    for d, lab in read:
        if d is not None:
            pages.append(d)
            labels.append(lab)
    y = np.stack(labels) if labels else np.zeros((0, len(sp.LABELS)), np.float32)
    return pages, y, n - len(pages)
