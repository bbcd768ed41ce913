"""The lead head: the page answer from the 16 lead-ordered crop features, and its class-activation map."""

from __future__ import annotations

import numpy as np
import pytest

from inference.classifier import get_classifier
from inference import preprocess as P
from inference.labels import LABELS
from inference.lead_head import LeadHead, head_path
from inference.model_def import MODEL_FILE
from training import lead_head as training_head
from training import synthetic

needs_model = pytest.mark.skipif(not MODEL_FILE.exists(), reason=f"shipped model file absent: {MODEL_FILE}")


def _separable(rng, n_per_class=12, leads=3, dim=5):
    """Pages whose class shows in one lead only: lead order carries the signal."""
    y = np.repeat(np.arange(len(LABELS)), n_per_class)
    x = rng.normal(0, 1, (len(y), leads, dim))
    for cls in range(len(LABELS)):
        x[y == cls, cls % leads, cls % dim] += 6.0
    return x.astype(np.float32), y


def test_fit_folds_standardisation_into_the_weights_and_matches_sklearn():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    x, y = _separable(rng)
    x[..., 0] *= 50.0  # very different feature scales
    head = training_head.fit(x, y, c=0.5)
    ref = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=3000, class_weight="balanced"))
    ref.fit(x.reshape(len(x), -1), y)
    x_new, y_new = _separable(np.random.default_rng(1))
    x_new[..., 0] *= 50.0
    expected = ref.predict_proba(x_new.reshape(len(x_new), -1))
    assert np.allclose(head.probabilities(x_new), expected, atol=1e-4)
    assert (head.probabilities(x_new).argmax(1) == y_new).mean() > 0.95
    one = head.probabilities(x_new[0])  # one page at a time, as the classifier calls it
    assert one.shape == (len(LABELS),) and one.sum() == pytest.approx(1.0)


def test_save_and_load_round_trip(tmp_path):
    x, y = _separable(np.random.default_rng(2))
    head = training_head.fit(x, y, meta={"note": "test"})
    path = head_path(tmp_path / "m.h5")
    assert path.name == "m_lead_head.npz"
    head.save(path)
    again = LeadHead.load(path)
    assert np.array_equal(again.weights, head.weights) and np.array_equal(again.bias, head.bias)
    assert again.meta["note"] == "test" and again.meta["n_pages"] == len(y)


def test_cam_is_the_linear_heads_contribution_map():
    rng = np.random.default_rng(3)
    head = LeadHead(rng.normal(0, 1, (4, 2, 3)).astype(np.float32), np.zeros(4, np.float32))
    maps = rng.normal(0, 1, (2, 2, 4, 3)).astype(np.float32)
    cams = head.cams(maps, 1)
    # the class logit is (up to the bias) the mean over positions of the un-clipped map, summed over leads
    raw = np.einsum("khwf,kf->khw", maps, head.weights[1])
    assert np.allclose(cams, np.maximum(raw, 0))
    assert raw.mean(axis=(1, 2)).sum() == pytest.approx(head.logits(maps.mean(axis=(1, 2)))[1], abs=1e-4)


@pytest.fixture(scope="module")
def clf():
    if not MODEL_FILE.exists():
        pytest.skip(f"shipped model file absent: {MODEL_FILE}")
    return get_classifier()


@needs_model
def test_shipped_model_and_head_fit_the_size_limit_together():
    assert MODEL_FILE.stat().st_size + head_path(MODEL_FILE).stat().st_size <= 50 * 1024 * 1024
    head = LeadHead.load(head_path(MODEL_FILE))
    assert head.weights.shape == (len(LABELS), P.N_CROPS, 2048)
    assert head.meta["data_hash"] and head.meta["C"] == training_head.C


def test_training_features_are_the_serving_features(clf):
    """The head is fitted on `training.lead_head.pooled_features` (a Keras sub-model to the pooling layer)
    and served on the mean of `Classifier.conv_maps`: they must be the same numbers."""
    crops = P.prepare(synthetic.page_bytes(1, 5)).crops
    served = clf.conv_maps(crops).mean(axis=(1, 2))
    trained = training_head.pooled_features(clf.model, (crops * 255).round().astype(np.uint8))
    assert served.shape == trained.shape == (P.N_CROPS, 2048)
    # the training path sees the uint8-cached crops: compare on the same input
    served_u8 = clf.conv_maps(((crops * 255).round() / 255).astype(np.float32)).mean(axis=(1, 2))
    assert np.allclose(served_u8, trained, rtol=1e-3, atol=1e-4)


def test_heat_map_equals_grad_cam_of_the_page_logit(clf):
    """For a linear head on global average pooling, Grad-CAM (gradient of the page logit w.r.t. each crop's
    maps, averaged over positions) and the CAM the classifier draws are the same map up to scale."""
    import tensorflow as tf

    crops = P.prepare(synthetic.page_bytes(2, 7)).crops
    probs, cams = clf.probabilities_and_cams(crops)
    top = int(np.argmax(probs))
    maps = tf.constant(clf.conv_maps(crops))
    w, b = tf.constant(clf.head.weights[top]), float(clf.head.bias[top])
    with tf.GradientTape() as tape:
        tape.watch(maps)
        logit = tf.reduce_sum(tf.reduce_mean(maps, axis=(1, 2)) * w) + b
    grads = tape.gradient(logit, maps)
    grad_cam = tf.nn.relu(tf.reduce_sum(tf.reduce_mean(grads, axis=(1, 2), keepdims=True) * maps, axis=-1)).numpy()
    grad_cam = grad_cam / grad_cam.max()
    assert cams.shape == grad_cam.shape and cams.max() == pytest.approx(1.0)
    assert np.allclose(cams, grad_cam, atol=1e-4)
    assert probs == pytest.approx(clf.page_probabilities(crops), abs=1e-6)
