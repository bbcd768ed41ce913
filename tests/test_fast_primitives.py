"""The reading's image primitives written for speed give what their plain forms give.

Each fast form here replaced a slower one on the reading's hot path (benchmarks/bench_digitize.py); the
plain form is the reference: OpenCV's 32-bit labelling, a reshape's maximum, scipy's grey closing. (Not
taken: `grid.ink_map`'s dilation in 16-bit steps, 10 ms faster a page but no longer exact; it turned a
brick wall's refusal from "no sheet" into "sheet too small": the sheet finder's score is that sensitive.)"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

from inference import preprocess as P
from inference.digitize import _max_pool4
from inference.grid import components
from training.page_render import render_random_page


def _page() -> np.ndarray:
    return render_random_page(4).image


def test_components_match_opencv_32_bit_labels():
    rng = np.random.default_rng(0)
    on = (rng.random((300, 500)) > 0.7).astype(np.uint8)
    n, lab, stats = components(on)
    n32, lab32, stats32, _ = cv2.connectedComponentsWithStats(on, connectivity=8)
    assert n == n32 and np.array_equal(lab, lab32) and np.array_equal(stats, stats32)


def test_components_with_more_blobs_than_16_bits_hold():
    on = np.zeros((600, 1000), np.uint8)
    on[::2, ::2] = 1  # 150 000 separate pixels
    n, lab, stats = components(on)
    assert n == 150_001 and lab.max() == 150_000 and stats[1:, cv2.CC_STAT_AREA].max() == 1


def test_max_pool4_is_the_blocks_maximum():
    rng = np.random.default_rng(1)
    x = rng.random((103, 66)).astype(np.float32)  # partial blocks at the bottom and the right are dropped
    want = x[:100, :64].reshape(25, 4, 16, 4).max(axis=(1, 3))
    assert np.array_equal(_max_pool4(x), want)


def test_classifier_ink_map_matches_its_scipy_form():
    """The image model's ink map with OpenCV's closing gives exactly what it gave with scipy's grey_closing."""
    area = _page()[200:700, 100:900]
    red = area[..., 0].astype(np.float32)
    bg = ndimage.uniform_filter(ndimage.grey_closing(red, size=(9, 9)), size=15)
    want = np.clip((0.80 - red / np.maximum(bg, 1.0)) / 0.45, 0.0, 1.0)
    got = P.ink_map(area)
    assert np.array_equal(got, want) and 0 < (got > 0.5).mean() < 0.5


def test_high_percentile_is_numpys():
    from inference.sheet import high_percentile

    rng = np.random.default_rng(2)
    x = (rng.random((700, 900)) ** 3 * 100).astype(np.float32)
    for q in (90.0, 99.0, 99.5, 100.0):
        assert abs(high_percentile(x, q) - float(np.percentile(x, q))) <= 1e-4
    # large values only where every 16th value is sampled: the sample's margin is fooled (too few
    # candidates above it), the full percentile answers
    y = np.zeros(160_000, np.float32)
    y[: 16 * 150: 16] = 50.0
    y[1: 16 * 1000: 16] = 7.0
    assert high_percentile(y, 99.5) == float(np.percentile(y, 99.5)) == 7.0
