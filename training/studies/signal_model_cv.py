"""The 1-D ResNet-50 on the digitized signals against the measurement model, on the same CV folds.

    python -m training.studies.signal_model_cv [--folds 5 --repeats 1] [--epochs 15] [--no-pretrained]

Members, each by `training.measure_model.cross_validate` on train+val (photos of the pages join their
own page's training folds and are predicted in its held-out fold):
* `resnet1d`: `training.resnet1d` fine-tuned from the synthetic pre-training weights
  (`python -m training.resnet1d pretrain` writes them) or, with --no-pretrained, from scratch;
* `measure_model`: `training.measure_model`'s gradient boosting on the clinical features;
* `mean of both`: the two members' probabilities averaged (a first look at combining them; stacking
  proper needs nested folds).
Writes `reports/signal_model_cv.json` and prints the summaries. Nothing here touches the test split.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from inference.labels import LABELS
from training import measure_model as M
from training.data import REPO_ROOT


def signal_tensors_of(items: list[dict], photo_seed0: int | None, workers: int) -> tuple[np.ndarray, np.ndarray]:
    """(signal tensors, refused flags) of the pages (or their photos) from the cached readings."""
    from pathlib import Path

    from training.data import DEFAULT_DATA
    from training.readings_cache import readings
    from training.resnet1d import N_CHANNELS, N_SAMPLES, signal_tensor

    jobs = [(str(Path(DEFAULT_DATA) / it["name"]), it["sha256"], None if photo_seed0 is None else photo_seed0 + i)
            for i, it in enumerate(items)]
    x = np.zeros((len(items), N_SAMPLES, N_CHANNELS), np.float32)
    refused = np.zeros(len(items), bool)
    for i, r in enumerate(readings(jobs, workers=workers)):
        if isinstance(r, str):
            refused[i] = True
        else:
            x[i] = signal_tensor(r[0])
    return x, refused


def resnet1d_fit_predict(pretrained: bool, epochs: int):
    """fit_predict for cross_validate: a fresh 1-D ResNet-50 per fold (pre-trained backbone or not), a new
    4-class head, class-weighted fine-tuning; returns the logits of x_te."""
    def fit_predict(x_tr, y_tr, x_te, seed: int = 0) -> np.ndarray:
        import keras

        from training.resnet1d import DEFAULT_WEIGHTS, build_resnet1d50, compile_multiclass, with_new_head
        from training.synthetic_pathology import LABELS as SYNTH

        keras.utils.set_random_seed(seed)
        base = build_resnet1d50(n_outputs=len(SYNTH))
        if pretrained:
            base.load_weights(DEFAULT_WEIGHTS)
        counts = np.bincount(y_tr, minlength=len(LABELS))
        weight = (len(y_tr) / (len(LABELS) * np.maximum(counts, 1)))[y_tr]  # MI is 6 % of the pages
        model = compile_multiclass(with_new_head(base, len(LABELS)))
        model.fit(x_tr, y_tr, sample_weight=weight, batch_size=32, epochs=epochs, shuffle=True, verbose=0)
        return np.asarray(model.predict(x_te, verbose=0))
    return fit_predict


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.studies.signal_model_cv", description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--no-pretrained", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args(argv)
    t0 = time.time()
    split = M.split_items()
    dev = split["train"] + split["val"]
    y = M.labels_of(dev)
    xs, _ = signal_tensors_of(dev, None, a.workers)
    xps, refused = signal_tensors_of(dev, M.TRAIN_PHOTO_SEED0, a.workers)
    extra_s = (xps[~refused], np.where(~refused)[0])
    xf, _ = M.page_features(dev, None, a.workers)
    xpf, _ = M.page_features(dev, M.TRAIN_PHOTO_SEED0, a.workers)
    extra_f = (xpf[~refused], np.where(~refused)[0])

    rep: dict = {"command": "python -m training.studies.signal_model_cv " + " ".join(sys.argv[1:] if argv is None else argv), "cv": {}}
    fit = resnet1d_fit_predict(not a.no_pretrained, a.epochs)
    s_scan, s_photo = M.cross_validate(xs, y, fit, a.folds, a.repeats, extra_s, True)
    f_scan, f_photo = M.cross_validate(xf, y, M.fit_predict_model, a.folds, a.repeats, extra_f, True)
    t_s = M.fit_temperature(s_scan.reshape(-1, len(LABELS)), np.tile(y, a.repeats))
    t_f = M.fit_temperature(f_scan.reshape(-1, len(LABELS)), np.tile(y, a.repeats))
    yp = y[extra_s[1]]
    members = {
        "resnet1d" + ("" if not a.no_pretrained else " (from scratch)"): (M.softmax(s_scan, t_s), M.softmax(s_photo, t_s)),
        "measure_model": (M.softmax(f_scan, t_f), M.softmax(f_photo, t_f)),
    }
    members["mean of both"] = tuple((p + q) / 2 for p, q in zip(*members.values()))
    for name, (scan, photo) in members.items():
        rep["cv"][name] = {"scans": M.cv_summary(y, scan), "photos": M.cv_summary(yp, photo)}
    rep["seconds"] = time.time() - t0
    out = REPO_ROOT / "reports" / "signal_model_cv.json"
    out.write_text(json.dumps(rep, indent=1) + "\n")
    for name, r in rep["cv"].items():
        for kind, sm in r.items():
            print(f"{name:28s} {kind:6s} acc {sm['accuracy']['mean']:.3f} f1 {sm['macro_f1']['mean']:.3f} "
                  f"recall MI/HB/PMI/N {np.round(sm['recall']['mean'], 2)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
