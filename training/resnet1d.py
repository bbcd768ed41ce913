"""A 1-D bottleneck ResNet-50 (xresnet1d50 of the PTB-XL benchmarks) over the digitized page, in Keras.

    python -m training.resnet1d pretrain --n 3600 --epochs 8 --paper-share 0.25 --out ~/.cache/ecg-analyzer/resnet1d_synth.weights.h5

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
stage widths: 18.6 M parameters on these 26 channels). The recommended 0.25 has 1.19 M parameters; on the
shared 2-core CPU one epoch of 400 pages at batch 32 took 5.1-5.3 s, plus about 35 s of graph tracing in
the first epoch (0.125: 0.31 M parameters, the same 5.2 s: at this size the CPU time is overhead, so
the narrower model buys nothing).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from inference import layout as L
from inference.signals import Digitized, LeadSignal

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
DEFAULT_WEIGHTS = Path.home() / ".cache" / "ecg-analyzer" / "resnet1d_synth.weights.h5"


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


# ------------------------------------------------------------------------------------------ training


def compile_multilabel(model, lr: float = 1e-3):
    import keras

    model.compile(optimizer=keras.optimizers.Adam(lr), loss=keras.losses.BinaryCrossentropy(from_logits=True))
    return model


def compile_multiclass(model, lr: float = 3e-4):
    import keras

    model.compile(optimizer=keras.optimizers.Adam(lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def fit_synthetic(n: int, seed: int = 0, width: float = RECOMMENDED_WIDTH, epochs: int = 8, batch_size: int = 32,
                  verbose: int = 2, paper_share: float = 0.0, workers: int = 2, log=print):
    """Pre-train on `n` synthetic pages (training.synthetic_pathology), multi-label; returns the model.
    A share `paper_share` of them is drawn on the product's page, half of those photographed, and read
    back by the product's reader (training.synthetic_paper), so the model also sees the digitizer's errors."""
    from training import synthetic_paper
    from training import synthetic_pathology as sp

    n_paper = int(round(n * paper_share))
    pages, y, _ = sp.dataset(n - n_paper, seed)
    if n_paper:
        paper, y_paper, refused = synthetic_paper.paper_dataset(n_paper, seed, photo_share=0.5, workers=workers)
        log(f"synthetic pages through paper: {len(paper)} read back, {refused} refused by the reader")
        pages, y = pages + paper, np.concatenate([y, y_paper])
    model = compile_multilabel(build_resnet1d50(n_outputs=len(sp.LABELS), width=width))
    model.fit(signal_tensors(pages), y, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=verbose)
    return model


def fine_tune(pretrained, x: np.ndarray, y: np.ndarray, n_classes: int = 4, epochs: int = 15, batch_size: int = 32,
              lr: float = 3e-4, verbose: int = 0):
    """A new `n_classes` head on the pre-trained backbone, trained end to end on (x = signal tensors of
    real pages, y = class indices). The backbone's weights are trained in place: load the pre-trained
    weights into a fresh model for every fold."""
    model = compile_multiclass(with_new_head(pretrained, n_classes), lr)
    model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=verbose)
    return model


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.resnet1d", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    pre = sub.add_parser("pretrain", help="pre-train on synthetic pathology and save the weights")
    pre.add_argument("--n", type=int, default=3600)
    pre.add_argument("--epochs", type=int, default=8)
    pre.add_argument("--width", type=float, default=RECOMMENDED_WIDTH)
    pre.add_argument("--seed", type=int, default=0)
    pre.add_argument("--paper-share", type=float, default=0.25,
                     help="share of the pages drawn on paper (half photographed) and read back by the digitizer")
    pre.add_argument("--workers", type=int, default=2)
    pre.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    args = ap.parse_args(argv)
    model = fit_synthetic(args.n, args.seed, args.width, args.epochs, paper_share=args.paper_share,
                          workers=args.workers)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(args.out)
    print(f"saved {args.out} ({model.count_params()} parameters)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
