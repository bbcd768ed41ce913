"""Training pipeline: data discovery/dedupe, the committed split, and a 1-epoch smoke run."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from inference import preprocess as P
from inference.labels import LABELS, label_for_folder
from training import data, synthetic

SHARED = data.DEFAULT_DATA
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"real ECG images not present at {SHARED}")


def test_folder_names_short_and_original():
    assert label_for_folder("MI") == "myocardial_infarction"
    assert label_for_folder("ECG Images of Myocardial Infarction Patients") == "myocardial_infarction"
    assert label_for_folder("ECG Images of Patient that have abnormal heartbeat") == "abnormal_heartbeat"
    assert label_for_folder("ECG Images of Patient that have History of MI") == "history_of_mi"
    assert label_for_folder("Normal Person ECG Images") == "normal"
    assert label_for_folder("something else") is None


def test_discover_dedupes_by_content(tmp_path):
    synthetic.write_dataset(tmp_path / "short", per_class=2)
    orig = tmp_path / "orig" / "ECG Images of Myocardial Infarction Patients"
    orig.mkdir(parents=True)
    src = next((tmp_path / "short" / "MI").iterdir())
    shutil.copy(src, orig / "MI(1).jpg")
    shutil.copy(src, orig / "MI(1) copy.jpg")
    items = data.discover(tmp_path)
    assert len(items) == 8  # the two copies are the same image as short/MI's first file
    assert len({it.sha256 for it in items}) == len(items)
    assert data.counts(items)["myocardial_infarction"] == 2


def test_split_is_stratified_disjoint_and_deterministic(tmp_path):
    synthetic.write_dataset(tmp_path, per_class=10)
    items = data.discover(tmp_path)
    a, b = data.stratified_split(items), data.stratified_split(items)
    assert {k: [i.sha256 for i in v] for k, v in a.items()} == {k: [i.sha256 for i in v] for k, v in b.items()}
    hashes = [set(i.sha256 for i in v) for v in a.values()]
    assert not (hashes[0] & hashes[1] or hashes[0] & hashes[2] or hashes[1] & hashes[2])
    assert data.counts(a["test"]) == {k: 2 for k in LABELS}
    assert data.counts(a["val"]) == {k: 1 for k in LABELS}


def test_committed_split_file_has_names_and_hashes_only():
    doc = json.loads(data.SPLIT_FILE.read_text())
    n = sum(len(doc[k]) for k in ("train", "val", "test"))
    assert n == 418
    assert len(doc["test"]) == 84 and len(doc["val"]) == 42
    for e in doc["test"]:
        assert set(e) == {"name", "label", "sha256"} and len(e["sha256"]) == 64


@needs_shared
def test_committed_split_matches_shared_data():
    items = data.discover(SHARED)
    parts = data.load_split(items)
    assert sum(len(v) for v in parts.values()) == len(items) == 418
    assert data.counts(parts["test"]) == {"myocardial_infarction": 5, "abnormal_heartbeat": 40,
                                          "history_of_mi": 15, "normal": 24}


def test_class_weights_balance_the_classes():
    from training.train import class_weights

    y = np.array([0] * 2 + [1] * 6 + [2] * 4 + [3] * 4)
    w = class_weights(y)
    per_class_total = np.bincount(y) * w
    assert np.allclose(per_class_total, per_class_total[0])


def test_photo_distort_keeps_page_readable():
    from training.augment import photo_distort

    page = synthetic.page_array(1, 3)
    out = photo_distort(page, np.random.default_rng(0))
    assert out.shape == page.shape and out.dtype == np.uint8
    assert not np.array_equal(out, page)
    crops = P.prepare(out).crops
    assert crops.shape == (P.N_CROPS, *P.CROP_SIZE, 1) and crops.max() > 0.3


def test_train_smoke_one_epoch(tmp_path):
    """One epoch on a few pages (real ones when ../shared is present, else synthetic)."""
    from training.train import Config, train

    src = SHARED if SHARED.is_dir() else tmp_path / "data"
    if not SHARED.is_dir():
        synthetic.write_dataset(src, per_class=3)
    split_backup = data.SPLIT_FILE.read_bytes()
    cfg = Config(data_dir=str(src), out_dir=str(tmp_path / "run"), epochs=1, crops_per_page=2, batch_size=8,
                 variants=0, limit_pages=4, workers=1, cache_dir=str(tmp_path / "cache"), verbose=0)
    meta = train(cfg)
    assert data.SPLIT_FILE.read_bytes() == split_backup  # training never rewrites the committed split
    assert (tmp_path / "run" / "final.h5").exists() and (tmp_path / "run" / "best.h5").exists()
    hist = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(hist) == 1 and np.isfinite(hist[0]["loss"])
    assert meta["epochs_run"] == 1 and 0.0 <= meta["val_page_acc"] <= 1.0
    # the lead head is fitted on the final backbone, and the pair loads as a classifier
    from inference.classifier import Classifier

    assert 0.0 <= meta["lead_head"]["val_page_acc"] <= 1.0
    clf = Classifier(tmp_path / "run" / "final.h5")
    result = clf.classify(synthetic.page_bytes(0, 1), check=False)
    assert result.is_ecg and sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-4)


@needs_shared
def test_evaluate_writes_the_report(tmp_path):
    """`ecg-bot evaluate` end to end on a few test pages with the shipped model (baselines skipped)."""
    from inference.model_def import MODEL_FILE
    from training.evaluate import main

    if not MODEL_FILE.exists():
        pytest.skip(f"shipped model file absent: {MODEL_FILE}")
    assert main(["--limit-pages", "4", "--no-baselines", "--out", str(tmp_path), "--workers", "1"]) == 0
    rep = json.loads((tmp_path / "evaluation.json").read_text())
    assert rep["test_counts"] == {label: 1 for label in LABELS}
    for cond in ("clean", "distorted", "masked"):
        m = rep["resnet50"][cond]
        assert 0.0 <= m["accuracy"] <= 1.0 and 0.0 <= m["macro_f1"] <= 1.0
        assert 0.0 <= rep["grid_found"][cond] <= 1.0 and 0.0 <= rep["ecg_check_pass"][cond] <= 1.0
    assert rep["grid_found"]["clean"] == 1.0  # every real page's grid is found
    assert "accuracy" in rep["resnet50_crop_mean"]
    assert rep["refusal"]["n"] >= 100 and rep["refusal"]["refused_rate"] == 1.0
    md = (tmp_path / "evaluation.md").read_text()
    assert "lead head" in md and "Grid rectangle found" in md
    for png in ("confusion_clean.png", "confusion_distorted.png", "reliability.png"):
        assert (tmp_path / png).stat().st_size > 1000
