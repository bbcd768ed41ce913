"""Would choosing the diagnosis's MI decision weight for a recall target beat the F2 rule? (a study)

    python -m training.studies.mi_target     # a minute once training.studies.stacking_cv has cached the members

The shipped combiner (`training.stacking.fit_combiner`, kind "mean" over the measurement model and the pre-trained
1-D ResNet-50) chooses MI's decision weight on its training rows by the classes' mean F-score with MI's F2
(`training.measure_model.choose_mi_weight`). The alternative tried here takes the smallest weight of a finer grid
whose out-of-fold MI recall on the training rows reaches a target with MI precision >= 0.60 (the issue's floor),
else the F2 rule's. Each rule is applied inside every outer fold of the 5 x 3 CV (`training.stacking.folds_of`,
the members' cached out-of-fold outputs: scans and the held-out pages' photos), so the figures are held-out.
Printed, not shipped.
"""

from __future__ import annotations

import numpy as np

from training import measure_model as M
from training import stacking as S

MEMBERS = ("measure", "resnet1d pre-trained")
GRID = np.round(np.arange(1.0, 8.01, 0.25), 2)


def target_rule(recall: float, precision: float = 0.60):
    def choose(y: np.ndarray, p: np.ndarray) -> float:
        for w in GRID:
            pred = M.weighted(p, w).argmax(-1)
            tp = int(((pred == 0) & (y == 0)).sum())
            if tp / max(1, int((y == 0).sum())) >= recall and tp / max(1, int((pred == 0).sum())) >= precision:
                return float(w)
        return M.choose_mi_weight(y, p)
    return choose


RULES = {"F2 (shipped)": M.choose_mi_weight, "recall >= 0.80": target_rule(0.80), "recall >= 0.85": target_rule(0.85),
         "recall >= 0.90": target_rule(0.90)}


def held_out(state: dict, y: np.ndarray, page: np.ndarray, rule, folds: int = 5, repeats: int = 3) -> dict:
    """Accuracy, MI recall and precision (mean over the repeats) of the mean combiner with `rule` inside each fold."""
    from inference.diagnosis import Combiner

    out = {"scans": [], "photos": []}
    all_folds = S.folds_of(y, folds, repeats)
    for r in range(repeats):
        pred_s, pred_p = np.zeros(len(y), int), np.zeros(len(page), int)
        for tr, te in all_folds[r * folds:(r + 1) * folds]:
            into, held = np.isin(page, tr), np.isin(page, te)
            z_tr = [np.concatenate([state[f"{m}|scan"][r, tr], state[f"{m}|photo"][r, into]]) for m in MEMBERS]
            y_tr = np.r_[y[tr], y[page[into]]]
            params = {"kind": "mean", "members": np.array(MEMBERS), "mi_weight": 1.0,
                      "temperatures": np.array([M.fit_temperature(z, y_tr) for z in z_tr])}
            params["mi_weight"] = rule(y_tr, Combiner(params).probabilities(z_tr))
            pred_s[te] = Combiner(params).probabilities([state[f"{m}|scan"][r, te] for m in MEMBERS]).argmax(-1)
            pred_p[held] = Combiner(params).probabilities([state[f"{m}|photo"][r, held] for m in MEMBERS]).argmax(-1)
        for on, pred, truth in (("scans", pred_s, y), ("photos", pred_p, y[page])):
            tp = int(((pred == 0) & (truth == 0)).sum())
            out[on].append((float((pred == truth).mean()), tp / int((truth == 0).sum()), tp / max(1, int((pred == 0).sum()))))
    return {on: np.mean(v, axis=0).round(3).tolist() for on, v in out.items()}


def main() -> int:
    from training.resnet1d import DEFAULT_WEIGHTS

    split = M.split_items()
    data = S.load_data(split["train"] + split["val"], M.TRAIN_PHOTO_SEED0, 2, log=lambda m: None)
    state = S.out_of_fold(data, MEMBERS, 5, 3, 15, DEFAULT_WEIGHTS, S.OOF_DIR, log=print)
    print("rule: scans [accuracy, MI recall, MI precision] | photos [...]")
    for name, rule in RULES.items():
        r = held_out(state, data["y"], data["photo_page"], rule)
        print(f"{name}: scans {r['scans']} | photos {r['photos']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
