"""Figures drawn by code render to valid PNGs of a sensible size, and are cached."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from content import figures
from content.figures import FIGURES, render_figure
from content.lessons import CAPTION_LIMIT, load_lessons

# a few representative figures (rendering is the slow part; the rhythm strips share one renderer)
SAMPLE = ["pqrst", "grid", "leads", "stemi_evolution", "rhythm_af"]


@pytest.mark.parametrize("name", SAMPLE)
def test_figure_renders_valid_png(name):
    png = render_figure(name)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    img = Image.open(io.BytesIO(png))
    img.verify()
    img = Image.open(io.BytesIO(png)).convert("RGB")
    w, h = img.size
    assert 300 <= w <= 2560 and 300 <= h <= 2560  # fits Telegram photos (sum of sides < 10000)
    arr = np.asarray(img)
    # not blank: black ink (trace/text) and pink paper or coloured marks are both present
    assert (arr.max(axis=2) < 80).mean() > 0.001
    packed = (arr[::3, ::3].astype(np.int32) * np.array([65536, 256, 1])).sum(axis=2)
    assert len(np.unique(packed)) > 20


def test_render_is_cached_and_deterministic():
    render_figure.cache_clear()
    a = render_figure("grid")
    assert render_figure("grid") is a
    assert render_figure.cache_info().hits >= 1
    render_figure.cache_clear()
    assert render_figure("grid") == a


def test_unknown_figure():
    with pytest.raises(KeyError):
        render_figure("nope")


def test_registry_is_complete():
    for needed in ("pqrst", "grid", "leads", "rhythm_sinus", "rhythm_sinus_tachycardia",
                   "rhythm_sinus_bradycardia", "rhythm_af", "rhythm_first_degree_block", "rhythm_pvc"):
        assert needed in FIGURES
    for name, spec in FIGURES.items():
        assert spec.name == name and spec.title and callable(spec.draw)
        assert 0 < len(spec.caption) <= CAPTION_LIMIT
    assert figures.FIGURE_NAMES == frozenset(FIGURES)


def test_every_figure_used_by_a_lesson_exists():
    used = {f for lesson in load_lessons() for f in lesson.figures}
    assert used <= set(FIGURES)
    assert {"pqrst", "grid", "leads"} <= used
