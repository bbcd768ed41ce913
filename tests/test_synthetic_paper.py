"""training.synthetic_paper: synthetic pathology drawn on the product's page, photographed or not, and
read back by the product's reader still shows the pathology its label claims (the claims of
tests/test_synthetic_pathology.py, measured on what the digitizer made of the page)."""

from __future__ import annotations

import numpy as np
import pytest

from inference.measure import measure
from tests.test_synthetic_pathology import CLAIMS
from training import synthetic_pathology as sp
from training.synthetic_paper import PAPER_SEED0, paper_dataset, read_back


@pytest.mark.parametrize("kind", ["acute_mi_inferior", "old_mi_anterior", "af", "lbbb"])
def test_a_scanned_page_read_back_keeps_the_claimed_pathology(kind):
    d, labels = read_back((kind, PAPER_SEED0 + 11, None))
    assert d is not None, "the reader refused a clean synthetic page"
    np.testing.assert_array_equal(labels, sp.generate(kind, PAPER_SEED0 + 11).labels)
    CLAIMS[kind](measure(d))


def test_a_photographed_page_is_read_back_with_its_rate():
    ex = sp.generate("tachy", PAPER_SEED0 + 3)
    d, _ = read_back(("tachy", PAPER_SEED0 + 3, PAPER_SEED0 + 3))
    assert d is not None
    m = measure(d)
    assert abs(m.heart_rate_bpm - ex.heart_rate) <= 5
    assert sum(lead.traced_fraction > 0.8 for lead in d.leads.values()) >= 10


def test_paper_dataset_labels_match_the_pages_it_kept():
    pages, y, refused = paper_dataset(6, seed=2, photo_share=0.5, workers=2)
    assert len(pages) + refused == 6 and len(pages) == len(y) >= 5
    assert y.shape[1] == len(sp.LABELS) and (y.sum(axis=1) >= 1).all()
    tachy, brady = y[:, sp.LABELS.index("tachy")] == 1, y[:, sp.LABELS.index("brady")] == 1
    for page, t, b in zip(pages, tachy, brady):  # the rate labels come from the page's own rate
        rate = measure(page).heart_rate_bpm
        assert (rate > 95) if t else (rate < 105), (rate, t)
        assert (rate < 65) if b else (rate > 55), (rate, b)
