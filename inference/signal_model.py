"""The signal model: a 1-D bottleneck ResNet-50 (xresnet1d50 of the PTB-XL benchmarks, in Keras) over the
digitized page, pre-trained on synthetic pathology and fine-tuned on the real pages (`training.resnet1d`).

    logits = get_signal_model().logits(digitized)   # (4,) in LABELS order; the stacker combines them

Input (`signal_tensor`): the page on one 10 s axis at 100 Hz (the PTB-XL benchmarks' rate), 1000 samples
by 26 channels:

* channels 0-11: the twelve leads, each in its own 2.5 s window of the 10 s axis and zero elsewhere. The
  printer records the four rows at the same time, so keeping every lead at its true time lets the
  convolutions see lead I, II and III of the same beats side by side (and the strip under them),
  instead of twelve unrelated snippets;
* channel 12: the rhythm strip (10 s);
* channels 13-25: one validity mask per signal channel (1 = traced). Zero is a real value in millivolts
  (the isoelectric line), so "not traced" (outside a lead's window, a NaN span the digitizer left, a
  lead it could not follow) needs its own channel; one mask per channel rather than one for the page
  because each lead's gaps are its own.

Each signal is resampled 500 -> 100 Hz by the NaN-aware mean of 5-sample blocks (a block is valid when
3 of its 5 samples are traced; the boxcar is the anti-alias filter, -3 dB near 44 Hz, above the
printer's 25 Hz low-pass), its median is subtracted (the baseline offset a page or a digitizer adds),
and it is kept in millivolts (voltage is a finding: LVH, ST deviation), clipped to +-5 mV.

Model (`build_resnet1d50`): xresnet stem (three convolutions, the first with stride 2, then max-pool),
bottleneck blocks [3, 4, 6, 3] with expansion 4 and kernel size 5, stride 2 in the first block of
stages 2-4 with an average-pooled identity path, the last batch norm of each residual branch started
at zero, and the head of the benchmarks: global average + max pooling, batch norm, dropout, one dense
layer giving logits. `width` scales every filter count, the stem's too (1.0 = the benchmark's 64-128-256-512
stage widths: 18.6 M parameters on these 26 channels). The shipped 0.25 has 1.19 M parameters; on the
shared 2-core CPU one epoch of 400 pages at batch 32 took 5.1-5.3 s, plus about 35 s of graph tracing in
the first epoch (0.125: 0.31 M parameters, the same 5.2 s: at this size the CPU time is overhead, so
the narrower model buys nothing).

The shipped file (`model/signal_resnet1d.npz`) holds every weight tensor quantised to int8 with one
float32 scale per output channel (the last axis), BatchNorm statistics and biases as float16: 1.2 MB
instead of 4.8, so that every model the product ships stays under 50 MB together. `tests/test_signal_model.py`
checks the quantised model's logits against the float weights it came from.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from inference import layout as L
from inference.labels import LABELS
from inference.signals import Digitized, LeadSignal

MODEL_FILE = Path(__file__).resolve().parent / "model" / "signal_resnet1d.npz"

MODEL_FS = 100
DECIMATE = L.FS // MODEL_FS  # 5 samples of the digitizer per model sample
N_SAMPLES = int(L.DURATION_S * MODEL_FS)  # 1000
SIGNALS = L.LEADS + ("rhythm",)
N_CHANNELS = 2 * len(SIGNALS)  # 13 signals + 13 masks
CLIP_MV = 5.0
BLOCKS = (3, 4, 6, 3)
STAGE_FILTERS = (64, 128, 256, 512)  # bottleneck widths at width 1.0; the blocks output 4x these
STEM_FILTERS = (32, 32, 64)
EXPANSION = 4
KERNEL = 5
# PyTorch's 0.1, the benchmarks': Keras' default 0.99 needs hundreds of steps to settle and 400 pages give 13 an
# epoch (with 0.99, 4 epochs on 400 synthetic pages scored held-out AUCs of 0.2-0.8; with 0.9, 0.89-1.0)
BN_MOMENTUM = 0.9
RECOMMENDED_WIDTH = 0.25


# ------------------------------------------------------------------------------------------ input


def _decimate(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values at MODEL_FS with 0 where untraced, validity 0/1) of a signal at the digitizer's rate."""
    n = len(x) // DECIMATE
    blocks = np.asarray(x[:n * DECIMATE], np.float64).reshape(n, DECIMATE)
    finite = np.isfinite(blocks)
    count = finite.sum(axis=1)
    mean = np.where(finite, blocks, 0.0).sum(axis=1) / np.maximum(count, 1)
    valid = count * 2 > DECIMATE
    if valid.any():
        mean = mean - np.median(mean[valid])
    return np.where(valid, np.clip(mean, -CLIP_MV, CLIP_MV), 0.0), valid.astype(np.float64)


def _place(out: np.ndarray, channel: int, lead: LeadSignal | None) -> None:
    """Write one lead's decimated signal and mask at its own time on the 10 s axis."""
    if lead is None or not lead.ok:
        return
    values, valid = _decimate(lead.signal)
    i0 = int(round(lead.start_s * MODEL_FS))
    n = min(len(values), N_SAMPLES - i0)
    if n <= 0:
        return
    out[i0:i0 + n, channel] = values[:n]
    out[i0:i0 + n, len(SIGNALS) + channel] = valid[:n]


def signal_tensor(d: Digitized) -> np.ndarray:
    """(N_SAMPLES, N_CHANNELS) float32 model input of a digitized page (layout: module docstring)."""
    if d.fs != L.FS:
        raise ValueError(f"expected signals at {L.FS} Hz, got {d.fs}")
    out = np.zeros((N_SAMPLES, N_CHANNELS), np.float32)
    for c, name in enumerate(L.LEADS):
        _place(out, c, d.leads.get(name))
    _place(out, len(L.LEADS), d.rhythm)
    return out


def signal_tensors(pages: list[Digitized]) -> np.ndarray:
    return np.stack([signal_tensor(d) for d in pages]) if pages else np.zeros((0, N_SAMPLES, N_CHANNELS), np.float32)


# ------------------------------------------------------------------------------------------ model


def _conv_bn(x, filters: int, kernel: int, stride: int = 1, relu: bool = True, zero_gamma: bool = False,
             name: str = ""):
    from keras import layers

    x = layers.Conv1D(filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, gamma_initializer="zeros" if zero_gamma else "ones",
                                  name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _bottleneck(x, filters: int, stride: int, name: str):
    """1x1 reduce -> kxk (strided) -> 1x1 expand (its BN starts at zero: the block starts as identity)."""
    from keras import layers

    out_filters = filters * EXPANSION
    y = _conv_bn(x, filters, 1, name=f"{name}_a")
    y = _conv_bn(y, filters, KERNEL, stride=stride, name=f"{name}_b")
    y = _conv_bn(y, out_filters, 1, relu=False, zero_gamma=True, name=f"{name}_c")
    shortcut = x
    if stride != 1:
        shortcut = layers.AveragePooling1D(stride, padding="same", name=f"{name}_pool")(shortcut)
    if x.shape[-1] != out_filters:
        shortcut = _conv_bn(shortcut, out_filters, 1, relu=False, name=f"{name}_id")
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([y, shortcut]))


def _scaled(filters: int, width: float) -> int:
    return max(8, int(round(filters * width)))


def build_resnet1d50(n_channels: int = N_CHANNELS, n_outputs: int = 11, width: float = RECOMMENDED_WIDTH,
                     n_samples: int = N_SAMPLES, dropout: float = 0.5):
    """xresnet1d50 with every filter count scaled by `width`; outputs logits (no activation)."""
    import keras
    from keras import layers

    inp = keras.Input((n_samples, n_channels), name="signals")
    x = inp
    for i, f in enumerate(STEM_FILTERS):
        x = _conv_bn(x, _scaled(f, width), KERNEL, stride=2 if i == 0 else 1, name=f"stem{i}")
    x = layers.MaxPooling1D(3, strides=2, padding="same", name="stem_pool")(x)
    for s, (n_blocks, f) in enumerate(zip(BLOCKS, STAGE_FILTERS)):
        for b in range(n_blocks):
            x = _bottleneck(x, _scaled(f, width), stride=2 if (b == 0 and s > 0) else 1, name=f"s{s}b{b}")
    pooled = layers.Concatenate(name="features")(
        [layers.GlobalAveragePooling1D(name="avg")(x), layers.GlobalMaxPooling1D(name="max")(x)])
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="head_bn")(pooled)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    out = layers.Dense(n_outputs, name="logits")(x)
    return keras.Model(inp, out, name=f"xresnet1d50_w{width:g}")


def with_new_head(model, n_outputs: int, dropout: float = 0.5):
    """The same backbone (shared weights) with a fresh BN-dropout-dense head of `n_outputs` logits."""
    import keras
    from keras import layers

    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="ft_bn")(model.get_layer("features").output)
    x = layers.Dropout(dropout, name="ft_dropout")(x)
    return keras.Model(model.input, layers.Dense(n_outputs, name="ft_logits")(x), name=f"{model.name}_ft")


# ------------------------------------------------------------------------------------ the shipped file
def quantised(weights: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Arrays to store: kernels (ndim >= 2) as int8 with a float32 scale per output channel, the rest
    (biases, BatchNorm gammas, betas and statistics) as float16."""
    out: dict[str, np.ndarray] = {}
    for i, w in enumerate(weights):
        w = np.asarray(w, np.float32)
        if w.ndim >= 2:
            scale = np.abs(w).reshape(-1, w.shape[-1]).max(axis=0) / 127.0
            scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
            out[f"q{i}"] = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
            out[f"s{i}"] = scale
        else:
            out[f"h{i}"] = w.astype(np.float16)
    return out


def dequantised(z) -> list[np.ndarray]:
    """The float32 weights back from `quantised`'s arrays (an npz or a dict), in their order."""
    n = int(z["n_weights"])
    out = []
    for i in range(n):
        if f"q{i}" in z:
            out.append(z[f"q{i}"].astype(np.float32) * z[f"s{i}"])
        else:
            out.append(z[f"h{i}"].astype(np.float32))
    return out


def save(model, path: Path, width: float, n_pretrain_outputs: int) -> None:
    """Write the fine-tuned model (`with_new_head(build_resnet1d50(...), len(LABELS))`) to `path`."""
    weights = model.get_weights()
    np.savez_compressed(path, n_weights=np.int64(len(weights)), width=np.float64(width),
                        n_pretrain_outputs=np.int64(n_pretrain_outputs), **quantised(weights))


class SignalModel:
    """The fine-tuned 1-D ResNet-50, rebuilt from the shipped file. `logits` is thread-safe (Keras'
    inference call holds no state)."""

    def __init__(self, path: str | Path = MODEL_FILE):
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        model = with_new_head(build_resnet1d50(n_outputs=int(arrays["n_pretrain_outputs"]),
                                               width=float(arrays["width"])), len(LABELS))
        model.set_weights(dequantised(arrays))
        self.model = model

    def logits_batch(self, x: np.ndarray) -> np.ndarray:
        """(n, classes) logits of signal tensors (n, N_SAMPLES, N_CHANNELS)."""
        return np.asarray(self.model(np.asarray(x, np.float32), training=False))

    def logits(self, d: Digitized) -> np.ndarray:
        """(classes,) logits of one digitized page, in LABELS order."""
        return self.logits_batch(signal_tensor(d)[None])[0]


_lock = threading.Lock()
_model: SignalModel | None = None


def get_signal_model() -> SignalModel:
    """The shipped model, loaded once per process (thread-safe)."""
    global _model
    with _lock:
        if _model is None:
            _model = SignalModel()
        return _model
