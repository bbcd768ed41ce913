"""training.stacking / inference.diagnosis: the stacker learns from out-of-fold outputs only, and the served
arrays give the fitted estimator's answers."""

from __future__ import annotations

import numpy as np
import pytest

from inference.labels import LABELS
from training import stacking as S

C = len(LABELS)


def memoriser(x_tr, y_tr, x_te, seed=0):
    """1-nearest neighbour: perfect on the rows it was fitted on, chance on the others (the features are noise)."""
    d = ((x_te[:, None, :] - x_tr[None, :, :]) ** 2).sum(-1)
    return np.eye(C)[y_tr[d.argmin(1)]] * 8.0  # confident logits


def honest(x_tr, y_tr, x_te, seed=0):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000).fit(x_tr, y_tr).decision_function(x_te)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 160
    y = np.arange(n) % C
    noise = rng.normal(size=(n, 6))
    informative = np.eye(C)[y] * 1.2 + rng.normal(size=(n, C))  # a weak, real signal
    photo_page = np.arange(0, n, 2)  # every other page has an accepted photo
    return {"y": y, "photo_page": photo_page,
            "noise": noise, "noise_photo": noise[photo_page] + 0.01,
            "informative": informative, "informative_photo": informative[photo_page] + rng.normal(size=(len(photo_page), C))}


def test_the_stacker_learns_from_out_of_fold_outputs_only(data):
    fitters = {"memo": (memoriser, data["noise"], data["noise_photo"]),
               "honest": (honest, data["informative"], data["informative_photo"])}
    state = S.out_of_fold(data, ("memo", "honest"), 5, 1, 0, None, cache_dir=None, log=lambda m: None, fitters=fitters)
    assert state["memo|done"].all() and state["honest|done"].all()
    z, y = S.stacked_rows(state, data, ("memo", "honest"))
    assert len(z) == len(data["y"]) + len(data["photo_page"]) and z.shape[1] == 2 * C
    # in-sample, the memoriser would be always right; out of fold (a photo is held out with its own page,
    # which is its nearest neighbour) it is at chance
    assert (z[:, :C].argmax(1) == y).mean() < 0.45
    clf = S.fit_stacker(z, y)
    memo_w, honest_w = np.abs(clf.coef_[:, :C]).sum(), np.abs(clf.coef_[:, C:]).sum()
    assert memo_w < 0.5 * honest_w, (memo_w, honest_w)


def test_the_served_combiner_gives_the_fitted_estimators_probabilities(tmp_path):
    from inference.diagnosis import MEMBERS, Combiner, log_softmax

    rng = np.random.default_rng(1)
    y = np.arange(200) % C
    z = [log_softmax(rng.normal(size=(200, C)) + 2 * np.eye(C)[y]) for _ in MEMBERS]
    x = np.concatenate(z, axis=1)
    params = S.fit_combiner("stack", MEMBERS, z, y)
    clf = S.fit_stacker(x, y)
    S.export_combiner({**params, "temperature": 1.0, "mi_weight": 1.0}, tmp_path / "c.npz")
    np.testing.assert_allclose(Combiner.load(tmp_path / "c.npz").probabilities(z), clf.predict_proba(x), atol=1e-9)
    # the temperature and the MI weight as fitted
    q = np.exp((x @ clf.coef_.T + clf.intercept_) / params["temperature"])
    q[:, 0] *= params["mi_weight"]
    np.testing.assert_allclose(Combiner(params).probabilities(z), q / q.sum(1, keepdims=True), atol=1e-9)
    # the mean: each member's tempered probabilities averaged
    mean = S.fit_combiner("mean", MEMBERS, z, y)
    t = mean["temperatures"]
    p = (np.exp(log_softmax(z[0] / t[0])) + np.exp(log_softmax(z[1] / t[1]))) / 2
    p[:, 0] *= mean["mi_weight"]
    np.testing.assert_allclose(Combiner(mean).probabilities(z), p / p.sum(1, keepdims=True), atol=1e-9)
    with pytest.raises(ValueError):
        Combiner(mean).probabilities(z[:1])


def test_the_diagnosis_refuses_a_combiner_of_other_members(tmp_path):
    from inference.diagnosis import Diagnosis

    rng = np.random.default_rng(2)
    z = [rng.normal(size=(40, C)), rng.normal(size=(40, C))]
    S.export_combiner(S.fit_combiner("mean", ("measure", "hog"), z, np.arange(40) % C), tmp_path / "c.npz")
    with pytest.raises(ValueError, match="combines"):
        Diagnosis(tmp_path / "c.npz")


def test_out_of_fold_outputs_resume_from_their_cache(tmp_path, data):
    calls = []

    def counting(x_tr, y_tr, x_te, seed=0):
        calls.append(seed)
        return honest(x_tr, y_tr, x_te)

    data = {**data, "feat": data["informative"], "feat_photo": data["informative_photo"]}
    fitters = {"measure": (counting, data["informative"], data["informative_photo"])}
    first = S.out_of_fold(data, ("measure",), 5, 1, 0, None, cache_dir=tmp_path, log=lambda m: None, fitters=fitters)
    assert len(calls) == 5
    again = S.out_of_fold(data, ("measure",), 5, 1, 0, None, cache_dir=tmp_path, log=lambda m: None, fitters=fitters)
    assert len(calls) == 5  # nothing refitted
    np.testing.assert_array_equal(first["measure|scan"], again["measure|scan"])
    more = S.out_of_fold(data, ("measure",), 5, 2, 0, None, cache_dir=tmp_path, log=lambda m: None, fitters=fitters)
    assert len(calls) == 10  # only the second repeat's folds
    np.testing.assert_array_equal(more["measure|scan"][0], first["measure|scan"][0])


def test_the_first_repeat_of_a_repeated_cv_is_the_single_cv():
    # the shipped combiner reuses the study's first repeat: its folds must be those of a 5 x 1 CV
    y = np.arange(97) % C
    for (a, b), (c, d) in zip(S.folds_of(y, 5, 1), S.folds_of(y, 5, 3)[:5]):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
