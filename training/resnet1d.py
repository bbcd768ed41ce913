"""Training the signal model (`inference.signal_model`: the 1-D ResNet-50 over the digitized page, its
input and architecture): pre-training on synthetic pathology, multi-label, and fine-tuning on the real
pages.

    python -m training.resnet1d pretrain --n 3600 --epochs 8 --paper-share 0.25 --out ~/.cache/ecg-analyzer/resnet1d_synth.weights.h5

Pre-training: `n` labelled synthetic pages (`training.synthetic_pathology`: acute and old MI by territory,
arrhythmias, conduction blocks, normal variants), a share of them drawn on the product's page, half of
those photographed, and read back by the product's reader (`training.synthetic_paper`), so the model also
sees the digitizer's errors. Fine-tuning (`fine_tune`): a new 4-class head on the backbone, trained end to
end, class-weighted.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from inference.signal_model import (  # noqa: F401  (the input and the model, re-exported for training code)
    BN_MOMENTUM, CLIP_MV, DECIMATE, MODEL_FS, N_CHANNELS, N_SAMPLES, RECOMMENDED_WIDTH, SIGNALS,
    build_resnet1d50, signal_tensor, signal_tensors, with_new_head,
)

DEFAULT_WEIGHTS = Path.home() / ".cache" / "ecg-analyzer" / "resnet1d_synth.weights.h5"


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
    real pages, y = class indices), each page weighted by its class's rarity (MI is 6 % of the pages). The
    backbone's weights are trained in place: load the pre-trained weights into a fresh model for every fold."""
    counts = np.bincount(y, minlength=n_classes)
    weight = (len(y) / (n_classes * np.maximum(counts, 1)))[y]
    model = compile_multiclass(with_new_head(pretrained, n_classes), lr)
    model.fit(x, y, sample_weight=weight, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=verbose)
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
