"""How much acute-MI recall a heavier MI weight at decision time buys the measurement model (a study).

    python -m training.studies.mi_weight     # about 4 minutes once the readings are cached

The out-of-fold probabilities of `training.measure_model`'s repeated 5-fold CV x 3 (photos in training,
as shipped), with MI's probability multiplied by w before the argmax. Printed, not shipped: w was not
chosen in nested folds yet, so these figures are optimistic by how much choosing w fits the folds.
"""

from __future__ import annotations

import numpy as np


def main() -> int:
    from sklearn.metrics import f1_score, precision_score, recall_score

    from training import measure_model as M

    split = M.split_items()
    dev = split["train"] + split["val"]
    y = M.labels_of(dev)
    x, _ = M.page_features(dev, None, 2, log=lambda m: None)
    xp, refused = M.page_features(dev, M.TRAIN_PHOTO_SEED0, 2, log=lambda m: None)
    extra = (xp[~refused], np.where(~refused)[0])
    s, sp = M.cross_validate(x, y, M.fit_predict_model, 5, 3, extra, True, log=lambda m: None)
    t = M.fit_temperature(s.reshape(-1, 4), np.tile(y, 3))

    def summary(p: np.ndarray, truth: np.ndarray, w: float) -> str:
        preds = (p * np.array([w, 1, 1, 1])).argmax(-1)
        acc = np.mean([(pr == truth).mean() for pr in preds])
        f1 = np.mean([f1_score(truth, pr, average="macro") for pr in preds])
        rec = np.mean([recall_score(truth, pr, labels=[0], average=None)[0] for pr in preds])
        prec = np.mean([precision_score(truth, pr, labels=[0], average=None, zero_division=0)[0] for pr in preds])
        return f"acc {acc:.3f} macro-F1 {f1:.3f} MI recall {rec:.2f} precision {prec:.2f}"

    for w in (1, 1.5, 2, 3, 4, 6):
        print(f"w {w}: scans {summary(M.softmax(s, t), y, w)} | photos {summary(M.softmax(sp, t), y[extra[1]], w)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
