"""Is the 1-D ResNet-50 worth shipping beside the measurement model, and what does pre-training give?

    python -m training.studies.stacking_cv [--folds 5 --repeats 3] [--epochs 15] [--weights PATH]

One repeated stratified k-fold over train+val (the folds of `training.measure_model`'s CV: same seed), and
in every outer fold, on the same training pages (with their photos) and the same held-out pages:

* `measure`: the measurement model (gradient boosting on the clinical features);
* `resnet1d pre-trained`: the 1-D ResNet-50 fine-tuned from the synthetic pre-training weights
  (`python -m training.resnet1d pretrain`: synthetic pathology, a share of it drawn on paper, photographed
  and read back by the digitizer);
* `resnet1d from scratch`: the same network and fine-tuning, random start;
* `hog`: HOG of the page + logistic regression (the classical baseline; scans only).

The members' out-of-fold outputs are kept fold by fold in the cache (`training.stacking.out_of_fold`), so
an interrupted run resumes and a second run only combines.

Combiners (`training.stacking.fit_combiner`), each judged on the same outer folds. Inside an outer fold
only that fold's training rows (the out-of-fold outputs of its training pages and their photos) fit the
combiner: for a single member or the mean, the members' temperatures and the MI decision weight; for the
stacker, the multinomial logistic regression on the members' log-probabilities side by side, its
temperature and MI weight chosen on its own inner 3-fold out-of-fold output.
Caveat: the members are not refitted inside each outer fold (that is 4x the ResNet fits), so the outputs
a stacker learns from came from members that had seen the held-out pages' labels among their
training pages. The leak is second-order (no held-out page's own output depends on its label) but
not nothing: read the stacker's figures as slightly optimistic. Nothing here touches the test split.

Writes `reports/stacking_cv.json` and `reports/stacking_cv.md`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from training import measure_model as M
from training import stacking as S
from training.data import REPO_ROOT

MEMBERS = ("measure", "resnet1d pre-trained", "resnet1d from scratch", "hog")


def combine(kind: str, members: tuple[str, ...], z_tr: list[np.ndarray], y_tr: np.ndarray,
            z_te: list[np.ndarray]) -> np.ndarray:
    """Probabilities of the test rows by one combiner (`training.stacking.fit_combiner`, served by
    `inference.diagnosis.Combiner`) fitted on the training rows (one log-probability array per member)."""
    from inference.diagnosis import Combiner

    return Combiner(S.fit_combiner(kind, members, z_tr, y_tr)).probabilities(z_te)


CANDIDATES = {  # name: (combiner, members)
    "measure": ("mean", ("measure",)),
    "resnet1d pre-trained": ("mean", ("resnet1d pre-trained",)),
    "resnet1d from scratch": ("mean", ("resnet1d from scratch",)),
    "hog": ("mean", ("hog",)),
    "mean: measure + resnet1d pre-trained": ("mean", ("measure", "resnet1d pre-trained")),
    "stack: measure + resnet1d pre-trained": ("stack", ("measure", "resnet1d pre-trained")),
    "stack: measure + resnet1d from scratch": ("stack", ("measure", "resnet1d from scratch")),
    "mean: measure + resnet1d from scratch": ("mean", ("measure", "resnet1d from scratch")),
    "stack: measure + resnet1d pre-trained + hog": ("stack", ("measure", "resnet1d pre-trained", "hog")),
}


def evaluate_candidates(state: dict, y: np.ndarray, page: np.ndarray, folds: int, repeats: int) -> dict:
    """Each candidate's outer-fold probabilities (scans and photos) -> CV summaries. Only repeats whose
    folds are all fitted for the candidate's members count."""
    all_folds = S.folds_of(y, folds, repeats)
    out = {}
    for name, (kind, members) in CANDIDATES.items():
        reps = [r for r in range(repeats)
                if all(state[f"{m}|done"][r * folds:(r + 1) * folds].all() for m in members)]
        if not reps:
            continue
        photos = "hog" not in members
        p_scan, p_photo = np.zeros((len(reps), len(y), S.C)), np.zeros((len(reps), len(page), S.C))
        for i, r in enumerate(reps):
            for tr, te in all_folds[r * folds:(r + 1) * folds]:
                into, held = np.isin(page, tr), np.isin(page, te)
                z_tr = [state[f"{m}|scan"][r, tr] for m in members]
                z_te = [state[f"{m}|scan"][r, te] for m in members]
                y_tr = y[tr]
                if photos:
                    z_tr = [np.concatenate([z, state[f"{m}|photo"][r, into]]) for z, m in zip(z_tr, members)]
                    z_te = [np.concatenate([z, state[f"{m}|photo"][r, held]]) for z, m in zip(z_te, members)]
                    y_tr = np.r_[y_tr, y[page[into]]]
                p = combine(kind, members, z_tr, y_tr, z_te)
                p_scan[i, te] = p[:len(te)]
                if photos:
                    p_photo[i, held] = p[len(te):]
        out[name] = {"repeats": len(reps), "scans": M.cv_summary(y, p_scan)}
        if photos:
            out[name]["photos"] = M.cv_summary(y[page], p_photo)
    return out


def markdown(rep: dict) -> str:
    lines = ["# Stacking the 1-D ResNet-50 with the measurement model (repeated CV on train+val)", "",
             f"`{rep['command']}` — {rep['folds']}-fold × {rep['repeats']} repeats; this run {rep['minutes']:.0f} min (members' out-of-fold outputs come from the cache when present). "
             "Mean ± sd over the repeats; every figure from held-out folds (see the module docstring for the "
             "stacker's caveat). Photos: the rendered phone photo of each held-out page.", "",
             "| candidate | on | accuracy | macro-F1 | recall MI / HB / PMI / N | MI precision | ECE |",
             "|---|---|---|---|---|---|---|"]
    for name, r in rep["cv"].items():
        for on in ("scans", "photos"):
            if on not in r:
                continue
            s = r[on]
            rec = " / ".join(f"{v:.2f}" for v in s["recall"]["mean"])
            lines.append(f"| {name} ({r['repeats']} rep.) | {on} | {s['accuracy']['mean']:.3f} ± {s['accuracy']['sd']:.3f} "
                         f"| {s['macro_f1']['mean']:.3f} ± {s['macro_f1']['sd']:.3f} | {rec} "
                         f"| {s['mi_precision']['mean']:.2f} | {s['ece']['mean']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.studies.stacking_cv", description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--weights", type=Path, default=None, help="pre-trained weights (default: training.resnet1d's)")
    ap.add_argument("--oof-dir", type=Path, default=S.OOF_DIR, help="where the members' out-of-fold outputs are kept")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args(argv)
    from training.resnet1d import DEFAULT_WEIGHTS

    def log(msg):
        print(msg, flush=True)

    t0 = time.time()
    split = M.split_items()
    data = S.load_data(split["train"] + split["val"], M.TRAIN_PHOTO_SEED0, a.workers, hog=True, log=log)
    state = S.out_of_fold(data, MEMBERS, a.folds, a.repeats, a.epochs, a.weights or DEFAULT_WEIGHTS, a.oof_dir, log)
    rep = {"command": "python -m training.studies.stacking_cv " + " ".join(sys.argv[1:] if argv is None else argv),
           "folds": a.folds, "repeats": a.repeats, "epochs": a.epochs, "stack_C": S.STACK_C,
           "cv": evaluate_candidates(state, data["y"], data["photo_page"], a.folds, a.repeats)}
    rep["minutes"] = (time.time() - t0) / 60
    (REPO_ROOT / "reports" / "stacking_cv.json").write_text(json.dumps(rep, indent=1) + "\n")
    md = markdown(rep)
    (REPO_ROOT / "reports" / "stacking_cv.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
