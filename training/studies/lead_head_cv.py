"""How the lead head was chosen: 5-fold cross-validation (2 repeats) over the training + validation pages
of lead-ordered features vs the mean of the 16 feature vectors vs the mean of the crop probabilities,
with and without the training pages' photo-like copies, shipped backbone.

Backbone features of the training pages are in-sample, so these figures are optimistic; they only rank
the options. (The model card's figures were measured on version-1 crops; on today's crops the ranking is
what to compare.)

    python -m training.studies.lead_head_cv    # about 40 minutes on 2 cores (8 settings x 10 fits)
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from inference.model_def import load_fp16
from training import data, lead_head
from training.crops import RUNS_DIR, build_crops


def main() -> None:
    parts = data.get_split(data.discover())
    model, _ = load_fp16()
    tr = build_crops(parts["train"], 2, data.SEED, 2, "train", RUNS_DIR / "cache")
    va = build_crops(parts["val"], 0, data.SEED, 2, "val", RUNS_DIR / "cache")[:, 0]
    f_tr, f_va = lead_head.pooled_features(model, tr), lead_head.pooled_features(model, va)
    p_tr = model.predict(tr[:, 0].reshape((-1,) + tr.shape[-3:]).astype(np.float32) / 255, verbose=0)
    p_va = model.predict(va.reshape((-1,) + va.shape[-3:]).astype(np.float32) / 255, verbose=0)
    n_tr = len(tr)
    feats = np.concatenate([f_tr[:, 0], f_va])  # clean pages
    copies = [f_tr[:, 1], f_tr[:, 2]]  # the training pages' photo-like copies
    crop_mean = np.concatenate([p_tr.reshape(n_tr, 16, -1), p_va.reshape(len(va), 16, -1)]).mean(axis=1)
    y = np.array([it.y for it in parts["train"] + parts["val"]])

    def as_x(f, kind):
        return f.reshape(len(f), -1) if kind == "lead order" else f.mean(axis=1)

    base = [[], []]
    for kind in ("lead order", "mean of features"):
        for c in (0.01, 0.1):
            for with_copies in (False, True):
                acc, f1 = [], []
                for repeat in (0, 1):
                    for a, b in StratifiedKFold(5, shuffle=True, random_state=repeat).split(feats, y):
                        x, yy = as_x(feats[a], kind), y[a]
                        if with_copies:
                            t = a[a < n_tr]
                            x = np.concatenate([x] + [as_x(v[t], kind) for v in copies])
                            yy = np.concatenate([yy, y[t], y[t]])
                        clf = make_pipeline(StandardScaler(),
                                            LogisticRegression(C=c, max_iter=3000, class_weight="balanced"))
                        pred = clf.fit(x, yy).predict(as_x(feats[b], kind))
                        acc.append(accuracy_score(y[b], pred))
                        f1.append(f1_score(y[b], pred, average="macro"))
                        if kind == "lead order" and c == 0.01 and not with_copies:
                            m = crop_mean[b].argmax(1)
                            base[0].append(accuracy_score(y[b], m))
                            base[1].append(f1_score(y[b], m, average="macro"))
                print(f"{kind:16s} C={c:<5} copies={with_copies!s:5} accuracy {np.mean(acc):.3f} ± {np.std(acc):.3f}"
                      f"  macro-F1 {np.mean(f1):.3f} ± {np.std(f1):.3f}", flush=True)
    print(f"mean of the crop probabilities: accuracy {np.mean(base[0]):.3f}, macro-F1 {np.mean(base[1]):.3f}")


if __name__ == "__main__":
    main()
