"""Inference: shared preprocessing, the shipped model, the non-ECG refusal and the Result contract."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from inference.analysis import classify, heatmap_png
from inference.classifier import get_classifier
from inference.labels import DISPLAY_NAMES, LABELS
from inference import ecg_check
from inference import preprocess as P
from inference.classifier import refusal_for
from inference.model_def import MODEL_FILE
from training import data, negatives, synthetic

SHARED = data.DEFAULT_DATA
needs_model = pytest.mark.skipif(not MODEL_FILE.exists(), reason=f"shipped model file absent: {MODEL_FILE}")


def _ecg_bytes() -> bytes:
    """A real test-split page when ../shared is present, else a synthetic page."""
    if SHARED.is_dir():
        return data.get_split(data.discover(SHARED))["test"][0].path.read_bytes()
    return synthetic.page_bytes(1, 1)


def _jpeg(a: np.ndarray) -> bytes:
    return negatives.to_jpeg(a)


def test_labels_and_display_names():
    assert LABELS == ("myocardial_infarction", "abnormal_heartbeat", "history_of_mi", "normal")
    assert DISPLAY_NAMES["normal"] == "Normal ECG"
    assert DISPLAY_NAMES["history_of_mi"] == "History of myocardial infarction"


def test_train_and_serve_preprocessing_identical(tmp_path):
    """The trainer's crops of a file equal what the served classifier computes from its bytes."""
    from training.crops import page_crops

    f = tmp_path / "page.jpg"
    f.write_bytes(_ecg_bytes())
    train_side = page_crops(str(f), variant=0, seed=0).astype(np.float32) / 255.0
    serve_side = P.prepare(f.read_bytes()).crops
    assert serve_side.shape == (P.N_CROPS, *P.CROP_SIZE, 1)
    assert np.abs(train_side - serve_side).max() <= 0.5 / 255 + 1e-6  # only the uint8 rounding of the cache


def test_exif_orientation_is_applied():
    page = synthetic.page_array(2, 5)
    rotated = Image.fromarray(page).rotate(90, expand=True)  # stored portrait ...
    exif = Image.Exif()
    exif[0x0112] = 6  # ... with "rotate 90 clockwise to view" in EXIF
    buf = io.BytesIO()
    rotated.save(buf, format="JPEG", quality=95, exif=exif)
    a = P.prepare(buf.getvalue())
    b = P.prepare(_jpeg(page))
    assert a.page.shape == b.page.shape
    assert np.abs(a.crops - b.crops).mean() < 0.02


def test_header_and_footer_cannot_reach_the_model():
    page = P.load_page(_ecg_bytes())
    masked = P.mask_header_footer(page)
    assert not np.array_equal(masked, page)
    assert np.array_equal(P.prepare(page).crops, P.prepare(masked).crops)


def test_unreadable_bytes_are_refused_not_raised():
    with pytest.raises(P.NotAnImage):
        P.prepare(b"definitely not an image")


@pytest.mark.parametrize("name", ["astronaut", "camera", "coffee", "text", "page"])
def test_refuses_library_images(name):
    import skimage.data as sd

    a = negatives._rgb(getattr(sd, name)())
    for arr in (a, negatives._landscape(a)):
        assert refusal_for(P.prepare(_jpeg(arr))) is not None


def test_refuses_generated_non_ecg():
    rng = np.random.default_rng(99)
    imgs = [negatives.text_page(rng, True), negatives.blank_sheet(rng, "blank"), negatives.blank_sheet(rng, "graph"),
            negatives.screenshot(rng, "app")]
    for arr in imgs:
        refusal = refusal_for(P.prepare(_jpeg(arr)))
        assert refusal is not None and refusal.reason


def test_real_or_synthetic_ecg_passes_the_check():
    from training.augment import photo_distort

    page = P.load_page(_ecg_bytes())
    for p in (page, photo_distort(page, np.random.default_rng(1))):
        prep = P.prepare(p)
        assert refusal_for(prep) is None, ecg_check.features(prep.page, prep.area)


def _grey(page: np.ndarray) -> np.ndarray:
    """The page as a photo may show it: the grid no longer reads as pink."""
    return np.repeat(page.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8)


def test_without_visible_pink_the_grid_is_placed_from_the_traces():
    page = P.load_page(_ecg_bytes())
    ref, found = P.find_grid_box(page, use_ink=False)
    assert found
    grey = _grey(page)
    assert not P.find_grid_box(grey, use_ink=False)[1]  # the pink is gone
    box, found = P.find_grid_box(grey)
    assert found and max(abs(a - b) for a, b in zip(box, ref)) <= 16, (box, ref)  # 1 % of the width
    assert P.prepare(page).box == ref  # a print keeps the pink grid's box


def test_a_tilted_photo_is_turned_level_before_cropping():
    page = _grey(P.load_page(_ecg_bytes()))
    level = P.prepare(page)
    for angle in (2.5, -3.0):
        tilted = np.asarray(Image.fromarray(page).rotate(angle, resample=Image.BILINEAR, fillcolor=(255, 255, 255)))
        assert abs(P.tilt_degrees(tilted) + angle) <= 0.25
        prep = P.prepare(tilted)
        assert abs(P.tilt_degrees(prep.page)) <= 0.25  # straightened
        assert prep.box_found and max(abs(a - b) for a, b in zip(prep.box, level.box)) <= 15, (prep.box, level.box)
        # the crops hold the same traces as the level page's
        same = np.corrcoef(prep.crops.ravel(), level.crops.ravel())[0, 1]
        unstraightened = P.crops_from_area(P.trace_area(tilted, level.box))
        assert same > np.corrcoef(unstraightened.ravel(), level.crops.ravel())[0, 1] + 0.2, same


def test_a_deep_shadow_across_the_page_does_not_refuse_it():
    """Paper is judged against its local light: half the page at 45 % brightness is still paper."""
    page = P.load_page(_ecg_bytes())
    h, w = page.shape[:2]
    light = np.where(np.arange(w)[None, :] < w * 0.55, 1.0, 0.45) * np.ones((h, 1))
    shaded = (page * light[..., None]).astype(np.uint8)
    box, _ = P.find_grid_box(shaded)
    res = ecg_check.check(shaded, P.trace_area(shaded, box))
    assert res.features["paper"] > 0.85, res.features
    assert res.is_ecg, res.features


def test_a_dark_or_grey_landscape_is_not_paper_with_traces():
    for level in (30, 128):
        flat = np.full((1131, 1600, 3), level, np.uint8)
        assert refusal_for(P.prepare(_jpeg(flat))) is not None


@pytest.fixture(scope="module")
def clf():
    if not MODEL_FILE.exists():
        pytest.skip(f"shipped model file absent: {MODEL_FILE}")
    return get_classifier()


def test_shipped_model_gives_probabilities(clf):
    r = classify(_ecg_bytes())
    assert r.is_ecg and r.reason is None
    assert set(r.probabilities) == set(LABELS)
    assert abs(sum(r.probabilities.values()) - 1.0) < 1e-4
    assert r.label in LABELS and r.display_name == DISPLAY_NAMES[r.label]
    assert r.confidence == pytest.approx(max(r.probabilities.values()))
    assert len(r.top_two) == 2 and r.top_two[0][0] == r.label and r.top_two[0][1] >= r.top_two[1][1]
    assert get_classifier() is clf  # one loader per process


def test_classify_refuses_non_ecg_and_non_image(clf):
    r = classify(_jpeg(negatives._rgb(__import__("skimage.data").data.astronaut())))
    assert not r.is_ecg and r.label is None and r.reason and r.probabilities == {}
    r = classify(b"\x00\x01garbage")
    assert not r.is_ecg and "image" in r.reason


def test_heatmap_png(clf):
    png = heatmap_png(_ecg_bytes())
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    img = Image.open(io.BytesIO(png))
    assert img.width > 300 and img.mode == "RGB"


def test_classify_is_thread_safe(clf):
    from concurrent.futures import ThreadPoolExecutor

    b = _ecg_bytes()
    with ThreadPoolExecutor(3) as ex:
        results = list(ex.map(classify, [b] * 3))
    assert len({r.label for r in results}) == 1
    assert np.allclose([list(r.probabilities.values()) for r in results], list(results[0].probabilities.values()),
                       atol=1e-5)
