"""The measurement model: the shipped arrays reproduce scikit-learn, CV never trains on a held-out page
(nor on its photo), the temperature calibrates, the shipped file matches today's features."""

from __future__ import annotations

import numpy as np
import pytest

from inference.features import FEATURE_NAMES
from inference.labels import LABELS
from inference.measure_model import MODEL_FILE, MeasureModel
from training import measure_model as T


def _data(n=160, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(LABELS), n)
    x = rng.normal(size=(n, len(FEATURE_NAMES))).astype(np.float32)
    x[:, 3] += 2.0 * y  # something to learn
    x[rng.random(x.shape) < 0.1] = np.nan  # not measured
    return x, y


def test_exported_trees_give_sklearns_probabilities(tmp_path):
    x, y = _data()
    clf = T.make_model(0).fit(x, y)
    T.export(clf, 1.0, tmp_path / "m.npz")
    served = MeasureModel(tmp_path / "m.npz")
    assert np.allclose(served.probabilities(x), clf.predict_proba(x), atol=1e-9)
    assert np.allclose(served.probabilities(x[0]), clf.predict_proba(x[:1])[0], atol=1e-9)


def test_temperature_is_applied_and_fitted(tmp_path):
    x, y = _data()
    clf = T.make_model(0).fit(x, y)
    T.export(clf, 2.0, tmp_path / "m.npz")
    assert np.allclose(MeasureModel(tmp_path / "m.npz").probabilities(x), T.softmax(clf.decision_function(x), 2.0))
    # scores 5x too confident for labels that are right 60 % of the time: the temperature cools them
    rng = np.random.default_rng(1)
    y2 = rng.integers(0, 4, 2000)
    guess = np.where(rng.random(2000) < 0.6, y2, rng.integers(0, 4, 2000))
    scores = 10.0 * np.eye(4)[guess]
    assert T.fit_temperature(scores, y2) > 3.0


def test_cv_never_trains_on_a_held_out_page_or_its_photo():
    x, y = _data(100)
    x[:, 0] = np.arange(100)  # column 0 names the page
    photos = x[:60].copy()  # photos of pages 0..59
    seen = []

    def fit_predict(x_tr, y_tr, x_te, seed=0):
        leak = set(x_tr[:, 0].astype(int)) & set(x_te[:, 0].astype(int))
        assert not leak, f"pages {sorted(leak)[:5]} both trained on and held out"
        seen.append(len(x_tr))
        return np.zeros((len(x_te), len(LABELS)))

    out, out_photos = T.cross_validate(x, y, fit_predict, folds=5, repeats=2, extra=(photos, np.arange(60)),
                                       log=lambda m: None)
    assert len(seen) == 10 and min(seen) > 80 + 40  # the training pages' photos did join their folds
    assert out.shape == (2, 100, len(LABELS)) and out_photos.shape == (2, 60, len(LABELS))


def test_the_mi_weight_is_chosen_without_the_pages_it_is_judged_on():
    x, y = _data(100)
    x[:, 0] = np.arange(100)  # column 0 names the page
    photos = x[:60].copy()
    calls = []  # (pages trained on, pages predicted) of every fit, in order

    def fit_predict(x_tr, y_tr, x_te, seed=0):
        calls.append((set(x_tr[:, 0].astype(int)), set(x_te[:, 0].astype(int))))
        return np.eye(len(LABELS))[np.asarray(x_te[:, 3] // 2, int).clip(0, 3)] * 3.0

    out, out_photos, chosen = T.nested_mi_weight(x, y, (photos, np.arange(60)), True, 4, 1, log=lambda m: None,
                                                 fit_predict=fit_predict)
    per_fold = T.INNER_FOLDS + 1  # per outer fold: the inner fits, then the outer one
    assert len(calls) == 4 * per_fold and len(chosen) == 4
    for k in range(4):
        held = calls[per_fold * k + T.INNER_FOLDS][1]
        assert not held & calls[per_fold * k + T.INNER_FOLDS][0]
        for trained, predicted in calls[per_fold * k: per_fold * k + T.INNER_FOLDS]:  # the inner CV that chose it
            assert not held & (trained | predicted), "an outer held-out page reached the weight's choice"
    assert all(w in T.MI_WEIGHTS for w in chosen)
    assert np.allclose(out.sum(-1), 1.0) and np.allclose(out_photos.sum(-1), 1.0)


def test_the_mi_weight_moves_borderline_pages_to_mi(tmp_path):
    x, y = _data()
    clf = T.make_model(0).fit(x, y)
    T.export(clf, 1.0, tmp_path / "m.npz", mi_weight=3.0)
    p = MeasureModel(tmp_path / "m.npz").probabilities(x)
    assert np.allclose(p, T.weighted(clf.predict_proba(x), 3.0))
    assert (p.argmax(1) == 0).sum() >= (clf.predict_proba(x).argmax(1) == 0).sum()
    # a page 40 % MI, 50 % abnormal beat: MI under weight 3
    assert T.weighted(np.array([[0.4, 0.5, 0.05, 0.05]]), 3.0).argmax() == 0
    # the decision score counts MI's recall twice: missing MI costs more than a false alarm
    truth = np.array([0, 0, 1, 1])
    assert T.decision_score(truth, np.eye(4)[[0, 0, 0, 1]]) > T.decision_score(truth, np.eye(4)[[0, 1, 1, 1]])


def test_shipped_model_matches_todays_features():
    if not MODEL_FILE.exists():
        pytest.fail(f"{MODEL_FILE} missing: python -m training.measure_model writes it")
    m = MeasureModel()
    p = m.probabilities(np.full(len(FEATURE_NAMES), np.nan, np.float32))
    assert p.shape == (len(LABELS),) and abs(p.sum() - 1) < 1e-9
