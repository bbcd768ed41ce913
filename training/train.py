"""Train the lead-crop ResNet50 on the ECG pages.

Reads top to bottom: data (discover, split, crops), model, fit, evaluate, save, then the lead head
(`training/lead_head.py`) that turns the 16 crops' features into the page answer.

Why lead crops: the page layout is fixed (3 x 4 leads + a rhythm strip), so each page gives 16 crops
of 64 x 112 px. That multiplies the samples by 16, keeps ResNet50 affordable on a 2-core CPU, and
leaves the printed header/footer (patient ID, date, heart rate) outside every input. During training a
page's prediction is the mean of its crops' probabilities (for early stopping); the shipped answer
comes from the lead head fitted at the end.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from inference import preprocess as P
from inference.labels import LABELS
from training import augment, data
from training.crops import RUNS_DIR, build_crops
from training.data import limit_per_class



@dataclass
class Config:
    data_dir: str = str(data.DEFAULT_DATA)
    out_dir: str = str(RUNS_DIR / "train")
    epochs: int = 40
    crops_per_page: int = 6  # crops sampled per training page per epoch (of 16)
    batch_size: int = 32
    lr: float = 3e-4
    warmup_epochs: int = 1
    variants: int = 2  # photo-distorted copies of every training page, made once before training
    patience: int = 5
    seed: int = data.SEED
    weights: str | None = None  # local ImageNet ResNet50 weights file (no download)
    max_minutes: float | None = 110.0  # stop after the epoch that passes this budget (2-core CPU: ~2 h in all)
    limit_pages: int | None = None  # smoke tests: use only this many pages per split
    input_size: tuple[int, int] = field(default_factory=lambda: P.CROP_SIZE)
    workers: int = 2
    bn_momentum: float = 0.9  # Keras' 0.99 lets the moving statistics lag far behind on ~50 steps/epoch
    cache_dir: str = str(RUNS_DIR / "cache")  # crops of every page/variant, keyed by image hash
    verbose: int = 2  # Keras fit verbosity (1: progress bar per epoch)


# ---------------------------------------------------------------- data

def set_seed(seed: int) -> None:
    import keras

    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    keras.utils.set_random_seed(seed)


class CropSequence:
    """Each epoch: for every page a random variant and a random subset of its crops, jittered."""

    def __init__(self, crops: np.ndarray, y: np.ndarray, per_page: int, batch: int, seed: int, sample_weight=None):
        import keras

        class _Seq(keras.utils.PyDataset):
            def __init__(s):
                super().__init__(workers=1, use_multiprocessing=False)
                s.epoch = 0
                s._make()

            def _make(s):
                rng = np.random.default_rng([seed, s.epoch])
                n, nv, nc = crops.shape[:3]
                v = rng.integers(0, nv, size=(n, per_page))
                c = np.stack([rng.permutation(nc)[:per_page] for _ in range(n)])
                pages = np.repeat(np.arange(n), per_page)
                s.idx = rng.permutation(len(pages))
                s.pages, s.v, s.c = pages, v.reshape(-1), c.reshape(-1)
                s.rng = rng

            def __len__(s):
                return int(np.ceil(len(s.idx) / batch))

            def __getitem__(s, b):
                sel = s.idx[b * batch:(b + 1) * batch]
                x = crops[s.pages[sel], s.v[sel], s.c[sel]].astype(np.float32) / 255.0
                x = augment.jitter_crops(x, s.rng)
                yy = y[s.pages[sel]]
                if sample_weight is None:
                    return x, yy
                return x, yy, sample_weight[yy]

            def on_epoch_end(s):
                s.epoch += 1
                s._make()

        self.seq = _Seq()


def class_weights(y: np.ndarray) -> np.ndarray:
    """'Balanced' weights: n / (k * n_c), so every class counts the same in the loss."""
    n_c = np.bincount(y, minlength=len(LABELS)).astype(np.float64)
    return (len(y) / (len(LABELS) * np.maximum(n_c, 1))).astype(np.float32)


# ---------------------------------------------------------------- model

def make_model(cfg: Config):
    import keras

    from inference.model_def import build_model

    model = build_model(tuple(cfg.input_size), weights=cfg.weights)
    for layer in model.get_layer("resnet50").layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = cfg.bn_momentum
    model.compile(optimizer=keras.optimizers.Adam(cfg.lr), loss="sparse_categorical_crossentropy",
                  weighted_metrics=["accuracy"])
    return model


def predict_pages(model, crops: np.ndarray, batch: int = 64) -> np.ndarray:
    """Page probabilities = mean of the crop probabilities (inference mode: BN moving statistics)."""
    n, nc = crops.shape[0], crops.shape[1]
    flat = crops.reshape((n * nc,) + crops.shape[2:]).astype(np.float32) / 255.0
    p = model.predict(flat, batch_size=batch, verbose=0).reshape(n, nc, -1)
    return p.mean(axis=1)


def recalibrate_bn(model, crops: np.ndarray, seed: int, batches: int = 40, batch: int = 64) -> None:
    """Re-estimate every BatchNorm's moving mean/variance on training crops with the final weights.

    Forward passes in training mode update only the moving statistics (no gradient step); the
    momentum is set to 0.9 for this pass, so 40 batches replace the stale averages entirely.
    """
    import keras

    bns = [l for l in model.get_layer("resnet50").layers if isinstance(l, keras.layers.BatchNormalization)]
    bns.append(model.get_layer("head_bn"))
    old = [l.momentum for l in bns]
    for l in bns:
        l.momentum = 0.9
    rng = np.random.default_rng(seed)
    flat = crops.reshape((-1,) + crops.shape[-3:])
    batches = min(batches, max(2, len(flat) // batch))  # tiny smoke-test sets need only a couple
    for _ in range(batches):
        x = flat[rng.integers(0, len(flat), batch)].astype(np.float32) / 255.0
        model(x, training=True)
    for l, m in zip(bns, old):
        l.momentum = m


def macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, pred, average="macro", labels=list(range(len(LABELS))), zero_division=0))


# ---------------------------------------------------------------- fit

def make_callbacks(cfg: Config, model, val_crops, y_val, history: list):
    import keras

    out = Path(cfg.out_dir)

    class PageEval(keras.callbacks.Callback):
        """Page-level validation in inference mode every epoch; keeps the best model by val loss."""

        def __init__(self):
            super().__init__()
            self.best = np.inf
            self.t0 = time.time()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            p = predict_pages(self.model, val_crops)
            pred = p.argmax(1)
            page_loss = float(-np.log(np.clip(p[np.arange(len(y_val)), y_val], 1e-7, 1)).mean())
            rec = {
                "epoch": epoch + 1,
                "minutes": round((time.time() - self.t0) / 60, 2),
                "lr": float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)),
                **{k: float(v) for k, v in logs.items()},
                "val_page_loss": page_loss,
                "val_page_acc": float((pred == y_val).mean()),
                "val_page_macro_f1": macro_f1(y_val, pred),
                "val_pred_counts": np.bincount(pred, minlength=len(LABELS)).tolist(),
            }
            logs["val_page_loss"] = page_loss
            from inference.model_def import save_fp16

            history.append(rec)
            print(json.dumps(rec), flush=True)
            (out / "history.json").write_text(json.dumps(history, indent=1))
            save_fp16(self.model, out / "last.h5", {"input_size": list(cfg.input_size), "epoch": epoch + 1})
            if page_loss < self.best:
                self.best = page_loss
                save_fp16(self.model, out / "best.h5", {"input_size": list(cfg.input_size), "epoch": epoch + 1})
            if cfg.max_minutes and (time.time() - self.t0) / 60 > cfg.max_minutes:
                print(f"time budget of {cfg.max_minutes} min reached, stopping", flush=True)
                self.model.stop_training = True

    def warmup(epoch, lr):
        if epoch < cfg.warmup_epochs:
            return cfg.lr * (epoch + 1) / (cfg.warmup_epochs + 1)
        return lr if epoch > cfg.warmup_epochs else cfg.lr

    return [
        PageEval(),
        keras.callbacks.LearningRateScheduler(warmup),
        keras.callbacks.ReduceLROnPlateau(monitor="val_page_loss", factor=0.5, patience=2, min_lr=1e-5, mode="min",
                                          verbose=1),
        keras.callbacks.EarlyStopping(monitor="val_page_loss", patience=cfg.patience, restore_best_weights=True,
                                      mode="min", start_from_epoch=2, verbose=1),
    ]


# ---------------------------------------------------------------- main

def train(cfg: Config) -> dict:
    t_start = time.time()
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    set_seed(cfg.seed)

    # Data
    items = data.discover(cfg.data_dir)
    parts = data.get_split(items, seed=cfg.seed)
    if cfg.limit_pages:
        parts = {k: limit_per_class(v, cfg.limit_pages) for k, v in parts.items()}
    print({k: data.counts(v) for k, v in parts.items()}, flush=True)
    y_tr = np.array([it.y for it in parts["train"]])
    y_val = np.array([it.y for it in parts["val"]])
    tr = build_crops(parts["train"], cfg.variants, cfg.seed, cfg.workers, "train crops", cfg.cache_dir)
    va = build_crops(parts["val"], 0, cfg.seed, cfg.workers, "val crops", cfg.cache_dir)[:, 0]
    cw = class_weights(y_tr)
    print("class weights", dict(zip(LABELS, cw.round(3).tolist())), flush=True)
    t_data = time.time() - t_start

    # Model
    model = make_model(cfg)

    # Fit
    history: list[dict] = []
    seq = CropSequence(tr, y_tr, cfg.crops_per_page, cfg.batch_size, cfg.seed, sample_weight=cw).seq
    model.fit(seq, epochs=cfg.epochs, callbacks=make_callbacks(cfg, model, va, y_val, history),
              verbose=cfg.verbose)

    # Evaluate (validation, page level): the restored best weights, with and without re-estimated
    # BatchNorm statistics; keep whichever validates better.
    from inference.model_def import save_fp16

    p = predict_pages(model, va)
    before = macro_f1(y_val, p.argmax(1)), float((p.argmax(1) == y_val).mean())
    saved = model.get_weights()
    recalibrate_bn(model, tr, cfg.seed)
    p2 = predict_pages(model, va)
    after = macro_f1(y_val, p2.argmax(1)), float((p2.argmax(1) == y_val).mean())
    print(f"val macro-F1/acc before BN re-estimation {before}, after {after}", flush=True)
    if after >= before:
        p = p2
    else:
        model.set_weights(saved)
    meta = {
        "input_size": list(cfg.input_size),
        "labels": list(LABELS),
        "config": asdict(cfg),
        "data_hash": data.data_hash(items),
        "n_train_pages": len(y_tr),
        "val_page_macro_f1": macro_f1(y_val, p.argmax(1)),
        "val_page_acc": float((p.argmax(1) == y_val).mean()),
        "data_prep_minutes": round(t_data / 60, 2),
        "train_minutes": round((time.time() - t_start) / 60, 2),
        "epochs_run": len(history),
        "bn_reestimated": bool(after >= before),
        "val_macro_f1_acc_before_after_bn_reestimation": [before, after],
    }
    save_fp16(model, out / "final.h5", meta)

    # Page head over the 16 lead-ordered crop features of the final backbone (training/lead_head.py):
    # this, not the mean of the crop probabilities above, is what the classifier answers with.
    from inference.lead_head import head_path
    from training.lead_head import fit_for_model

    head, meta["lead_head"] = fit_for_model(model, tr, y_tr, va, y_val)
    head.meta.update({"data_hash": meta["data_hash"], "backbone": "final.h5"})
    head.save(head_path(out / "final.h5"))
    (out / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
    print(json.dumps({k: v for k, v in meta.items() if k != "config"}), flush=True)
    return meta
