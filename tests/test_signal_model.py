"""inference.signal_model: the shipped file (int8 kernels with a scale per output channel, the rest float16)
rebuilds the fine-tuned 1-D ResNet-50 with the logits of the float weights it came from."""

from __future__ import annotations

import numpy as np

from inference import signal_model as SM
from inference.labels import LABELS
from training import synthetic_pathology as sp


def test_quantised_weights_round_trip_within_half_a_step():
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(5, 16, 32)).astype(np.float32) * np.linspace(0.01, 1, 32)  # channels of all scales
    bias = rng.normal(size=32).astype(np.float32)
    arrays = SM.quantised([kernel, bias])
    assert arrays["q0"].dtype == np.int8 and arrays["s0"].shape == (32,) and arrays["h1"].dtype == np.float16
    back = SM.dequantised({**arrays, "n_weights": 2})
    step = np.abs(kernel).reshape(-1, 32).max(0) / 127
    assert (np.abs(back[0] - kernel) <= step / 2 + 1e-7).all()
    np.testing.assert_allclose(back[1], bias, rtol=1e-3)


def test_the_shipped_format_gives_the_float_models_answers(tmp_path):
    import keras

    keras.utils.set_random_seed(3)
    model = SM.with_new_head(SM.build_resnet1d50(n_outputs=len(sp.LABELS), width=0.125), len(LABELS))
    # trained-looking weights: random kernels, BatchNorm statistics away from 0 / 1
    model.set_weights([w + np.random.default_rng(i).normal(0, 0.05, w.shape).astype(np.float32)
                       for i, w in enumerate(model.get_weights())])
    pages = [sp.generate(k, 0).digitized for k in ("normal", "acute_mi_inferior", "af")]
    x = np.stack([SM.signal_tensor(d) for d in pages])
    want = np.asarray(model(x, training=False))
    SM.save(model, tmp_path / "s.npz", width=0.125, n_pretrain_outputs=len(sp.LABELS))
    served = SM.SignalModel(tmp_path / "s.npz")
    got = served.logits_batch(x)
    assert got.shape == (3, len(LABELS))
    assert np.abs(got - want).max() < 0.05 * np.abs(want).max() + 1e-3, (got, want)
    np.testing.assert_allclose(served.logits(pages[1]), got[1], rtol=1e-4, atol=1e-5)
    assert (tmp_path / "s.npz").stat().st_size < 0.4 * 4 * model.count_params()  # int8: well under float32
