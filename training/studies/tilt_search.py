"""`tilt_degrees` tries whole degrees, then quarter degrees around the best. Does that find the same angle
as trying every quarter degree in +-4, and how much faster is it?

    python -m training.studies.tilt_search     # 80 photo-like copies of training and validation pages
"""

from __future__ import annotations

import time

import numpy as np
from scipy import ndimage

from inference import preprocess as P
from training import augment, data


def exhaustive(page: np.ndarray) -> float:
    ink = P._small_ink(page)
    angles = np.arange(-4.0, 4.01, 0.25)
    scores = [float((ndimage.rotate(ink, a, reshape=False, order=1).sum(axis=1) ** 2).sum()) for a in angles]
    return float(angles[int(np.argmax(scores))])


def main() -> None:
    parts = data.get_split(data.discover())
    same, t_full, t_fast, n = 0, 0.0, 0.0, 0
    for i, it in enumerate(parts["train"][::5] + parts["val"][::2]):
        page = augment.photo_distort(P.load_page(str(it.path)), np.random.default_rng([3, i]))
        t = time.perf_counter()
        full = exhaustive(page)
        t_full += time.perf_counter() - t
        t = time.perf_counter()
        fast = P.tilt_degrees(page)
        t_fast += time.perf_counter() - t
        same += full == fast
        n += 1
    print(f"same angle on {same} of {n} pages; ms per page: every quarter degree {1000 * t_full / n:.0f}, "
          f"coarse then fine {1000 * t_fast / n:.0f}")


if __name__ == "__main__":
    main()
