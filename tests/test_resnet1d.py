"""The signal model's input layout of a digitized page (inference.signal_model), the xresnet1d50's shapes and sizes, a training step (training.resnet1d)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from inference import layout as L
from inference import signal_model as SM
from training import resnet1d as R
from training import synthetic_pathology as sp

MASK = len(R.SIGNALS)  # the masks follow the 13 signal channels


@pytest.fixture(scope="module")
def page():
    return sp.generate("acute_mi_anterior", 0).digitized


def window(lead: str) -> slice:
    start = int(L.lead_window(lead)[2] * R.MODEL_FS)
    return slice(start, start + int(L.SEGMENT_S * R.MODEL_FS))


def test_each_lead_sits_in_its_own_window_with_its_mask(page):
    x = R.signal_tensor(page)
    assert x.shape == (1000, 26) and x.dtype == np.float32 and np.isfinite(x).all()
    for c, name in enumerate(L.LEADS):
        inside = np.zeros(1000, bool)
        inside[window(name)] = True
        assert (x[inside, MASK + c] == 1).all() and (x[~inside, MASK + c] == 0).all(), name
        assert (x[~inside, c] == 0).all() and np.abs(x[inside, c]).max() > 0.05, name
    assert (x[:, 2 * MASK - 1] == 1).all()  # the strip covers the whole 10 s


def test_values_are_block_means_in_millivolts_without_the_baseline(page):
    x = R.signal_tensor(page)
    v2 = page.leads["V2"].signal.astype(np.float64)
    blocks = v2.reshape(-1, 5).mean(axis=1)
    np.testing.assert_allclose(x[window("V2"), L.LEADS.index("V2")], blocks - np.median(blocks), atol=1e-5)


def test_untraced_spans_and_leads_are_zero_with_a_zero_mask(page):
    v1 = page.leads["V1"].signal.copy()
    v1[100:400] = np.nan  # 0.2-0.8 s into the window
    gapped = replace(page, leads={**page.leads, "V1": replace(page.leads["V1"], signal=v1),
                                  "aVL": replace(page.leads["aVL"], ok=False)})
    x = R.signal_tensor(gapped)
    c1, cl = L.LEADS.index("V1"), L.LEADS.index("aVL")
    gap = slice(window("V1").start + 20, window("V1").start + 80)
    assert np.isfinite(x).all()
    assert (x[gap, c1] == 0).all() and (x[gap, MASK + c1] == 0).all()
    assert (x[window("V1").start + 81:window("V1").stop, MASK + c1] == 1).all()
    assert (x[:, cl] == 0).all() and (x[:, MASK + cl] == 0).all()


def test_resnet1d50_shapes_and_size():
    import keras

    model = R.build_resnet1d50(n_outputs=11, width=R.RECOMMENDED_WIDTH)
    assert model.output.shape[1:] == (11,)
    assert 1.0e6 < model.count_params() < 1.4e6
    adds = [ly for ly in model.layers if isinstance(ly, keras.layers.Add)]
    assert len(adds) == sum(SM.BLOCKS) == 16  # 3 + 4 + 6 + 3 bottleneck blocks
    middle = [ly for ly in model.layers if ly.name.endswith("_b_conv")]
    assert len(middle) == 16 and all(ly.kernel_size == (5,) for ly in middle)
    assert len([ly for ly in model.layers if ly.name.startswith("stem") and ly.name.endswith("_conv")]) == 3
    # 1000 samples: /2 stem conv, /2 max-pool, /2 at stages 2-4 -> 32; 4 x 128 channels at the end
    assert model.get_layer("s3b2_out").output.shape[1:] == (32, 512)
    assert model.get_layer("features").output.shape[1:] == (1024,)  # average + max pooling
    y = model(np.zeros((2, 1000, 26), np.float32), training=False)
    assert y.shape == (2, 11)


def test_new_head_shares_the_backbone():
    model = R.build_resnet1d50(width=0.125)
    ft = R.with_new_head(model, 4)
    assert ft.output.shape[1:] == (4,)
    assert ft.get_layer("s0b0_a_conv").kernel is model.get_layer("s0b0_a_conv").kernel


def test_a_few_training_steps_reduce_the_loss():
    import keras

    keras.utils.set_random_seed(0)
    pages, y, _ = sp.dataset(8, seed=1)
    x = R.signal_tensors(pages)
    model = R.compile_multilabel(R.build_resnet1d50(n_outputs=len(sp.LABELS), width=0.125))
    model.run_eagerly = True  # eager steps on 8 pages are faster than tracing the graph
    losses = [float(model.train_on_batch(x, y)) for _ in range(6)]
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.8 * losses[0], losses


def test_fine_tuning_weights_pages_by_their_class_rarity(monkeypatch):
    import keras

    seen = {}

    def fit(self, x, y, sample_weight=None, **kw):
        seen["w"], seen["y"] = sample_weight, y

    monkeypatch.setattr(keras.Model, "fit", fit)
    y = np.array([0] + [1] * 9)
    R.fine_tune(R.build_resnet1d50(width=0.125), np.zeros((10, 1000, 26), np.float32), y, epochs=1)
    assert seen["w"][0] == pytest.approx(10 / (4 * 1)) and seen["w"][1] == pytest.approx(10 / (4 * 9))
