"""The diagnosis the product ships: the measurement model and the 1-D ResNet-50 stacked on out-of-fold
predictions (`inference.diagnosis` serves it).

    python -m training.stacking [--folds 5] [--epochs 15] [--weights PRETRAINED] [--out-dir inference/model]

Reads top to bottom:
1. data -- train+val: each page's clinical features and signal tensor, and those of its rendered phone photo
   (the readings are cached: `training.readings_cache`);
2. members out of fold -- a stratified k-fold over the pages (the first repeat of `training.measure_model`'s
   CV folds); in each fold the measurement model (gradient boosting) and the 1-D ResNet-50 (fine-tuned from
   the synthetic pre-training) are fitted on the fold's training pages with their photos and predict its
   held-out pages and photos. Every page and photo thus gets each member's output from a model that never
   saw it (kept fold by fold in the cache, so a run resumes);
3. the combiner (`fit_combiner`), fitted on those out-of-fold log-probabilities only (never on a member's
   in-sample output: tests/test_stacking.py): the members' tempered probabilities averaged ("mean") or a
   logistic-regression stacker ("stack"), whichever repeated CV chose (`COMBINER`), and the MI decision
   weight chosen on out-of-fold output (as `training.measure_model` chooses the measurement model's);
4. the final signal model -- fine-tuned on all of train+val with the photos, written quantised
   (`inference.signal_model.save`); the measurement model is `training.measure_model`'s (stage `measure`);
5. the test split, once: the shipped files end to end on the test pages and their photos, with bootstrap CIs.

Writes `signal_resnet1d.npz` and `combiner.npz` into --out-dir, and `stack_model.json` into `reports/` when
--out-dir is `inference/model` (then the test split is evaluated, `stack_model.md` too), else into --out-dir.
Why these members and this combiner: `python -m training.studies.stacking_cv` (reports/stacking_cv.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from inference.labels import LABELS
from training import measure_model as M
from training.data import REPO_ROOT
from training.readings_cache import CACHE_DIR

C = len(LABELS)
SHIPPED = ("measure", "resnet1d pre-trained")  # the members the product combines, in the combiner's input order
COMBINER = "mean"  # "mean" or "stack": what repeated CV chose (python -m training.studies.stacking_cv)
STACK_C = 0.3  # the stacker's inverse L2 strength (8 inputs, ~530 rows); see fit_stacker
OOF_DIR = CACHE_DIR / "oof"  # the members' out-of-fold outputs (`cache_file`)
FOLDS_SEED = 0  # = training.measure_model's CV


# ------------------------------------------------------------------------------------------------ data
def signal_tensors_of(items: list[dict], photo_seed0: int | None, workers: int) -> tuple[np.ndarray, np.ndarray]:
    """(signal tensors, refused flags) of the pages (or their photos) from the cached readings."""
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


def load_data(items: list[dict], photo_seed0: int, workers: int, hog: bool = False, log=print) -> dict:
    """Labels, features and signal tensors of the pages and of their accepted photos (and HOG if asked)."""
    y = M.labels_of(items)
    feat, _ = M.page_features(items, None, workers, log)  # a refused scan: NaN features, zero signals (none of train+val is)
    feat_photo, refused = M.page_features(items, photo_seed0, workers, log)
    sig, _ = signal_tensors_of(items, None, workers)
    sig_photo, _ = signal_tensors_of(items, photo_seed0, workers)
    ok = ~refused
    data = {"y": y, "photo_page": np.where(ok)[0], "feat": feat, "feat_photo": feat_photo[ok],
            "sig": sig, "sig_photo": sig_photo[ok]}
    if hog:
        data["hog"] = M.hog_pages(items, log)
    return data


# --------------------------------------------------------------------------------------------- members
def resnet1d_fit_predict(weights: Path | None, epochs: int, keep: list | None = None):
    """fit_predict: a fresh 1-D ResNet-50 (pre-trained backbone from `weights`, or random), a new 4-class
    head, class-weighted fine-tuning; returns the logits of x_te (and appends the model to `keep`)."""
    def fit_predict(x_tr, y_tr, x_te, seed: int = 0) -> np.ndarray:
        import keras

        from training.resnet1d import build_resnet1d50, fine_tune
        from training.synthetic_pathology import LABELS as SYNTH

        keras.utils.set_random_seed(seed)
        base = build_resnet1d50(n_outputs=len(SYNTH))
        if weights is not None:
            base.load_weights(weights)
        model = fine_tune(base, x_tr, y_tr, C, epochs)
        out = np.asarray(model.predict(x_te, verbose=0)) if len(x_te) else np.zeros((0, C))
        if keep is not None:
            keep.append(model)
        else:
            keras.backend.clear_session()
        return out
    return fit_predict


def log_probs(out: np.ndarray, member: str) -> np.ndarray:
    """Every member's output as log-probabilities: the trees and the networks give scores (logits),
    the HOG baseline probabilities."""
    if member == "hog":
        return np.log(np.clip(out, 1e-6, 1.0))
    z = out - out.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def member_fitters(data: dict, epochs: int, weights: Path) -> dict:
    """member -> (fit_predict, page rows, photo rows or None)."""
    from training.baselines import fit_predict_hog

    return {
        "measure": (M.fit_predict_model, data["feat"], data["feat_photo"]),
        "resnet1d pre-trained": (resnet1d_fit_predict(weights, epochs), data["sig"], data["sig_photo"]),
        "resnet1d from scratch": (resnet1d_fit_predict(None, epochs), data["sig"], data["sig_photo"]),
        "hog": (fit_predict_hog, data.get("hog"), None),
    }


def folds_of(y: np.ndarray, folds: int, repeats: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (train, held-out) page indices of every fold, repeat by repeat. A repeat's folds do not depend
    on how many repeats follow it, so the first repeat of a 5 x 3 CV is the 5 x 1 CV."""
    from sklearn.model_selection import RepeatedStratifiedKFold

    cv = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=FOLDS_SEED)
    return list(cv.split(np.zeros(len(y)), y))


def cache_file(cache_dir: Path, member: str, data: dict, epochs: int, weights: Path) -> Path:
    """Where one member's out-of-fold outputs are kept: keyed by what they depend on (the reading code,
    the photo renderer, the pages and photos, and for the networks the epochs and the pre-trained weights),
    so a change to any of them starts afresh."""
    import hashlib

    from training.readings_cache import source_hash

    h = hashlib.sha256()
    h.update(source_hash(extra=(REPO_ROOT / "training" / "photo_render.py", REPO_ROOT / "inference" / "features.py")).encode())
    h.update(np.asarray(data["y"]).tobytes() + np.asarray(data["photo_page"]).tobytes())
    if member.startswith("resnet1d"):
        h.update(str(epochs).encode())
        if member == "resnet1d pre-trained":
            h.update(hashlib.sha256(Path(weights).read_bytes()).digest())
    slug = member.replace(" ", "_").replace("-", "")
    return cache_dir / f"oof-{slug}-{h.hexdigest()[:12]}.npz"


def out_of_fold(data: dict, members: tuple[str, ...], folds: int, repeats: int, epochs: int, weights: Path | None,
                cache_dir: Path | None = OOF_DIR, log=print, fitters: dict | None = None) -> dict:
    """Out-of-fold log-probabilities: state[f"{member}|scan"] (repeats, pages, C), state[f"{member}|photo"]
    (repeats, photos, C) and state[f"{member}|done"] (folds * repeats,). A photo is predicted in its page's
    held-out fold and joins its page's training folds. Each member's outputs are kept in `cache_dir` after
    every fold (`cache_file`), so a run resumes; a cache made with more repeats serves the first ones.
    `fitters` (member -> (fit_predict, page rows, photo rows or None)) replaces `member_fitters`' (tests)."""
    y, page = data["y"], data["photo_page"]
    fitters = fitters or member_fitters(data, epochs, weights)
    state: dict = {}
    files = {}
    for m in members:
        scan, photo = np.zeros((repeats, len(y), C)), np.zeros((repeats, len(page), C))
        done = np.zeros(folds * repeats, bool)
        if cache_dir is not None:
            files[m] = cache_file(cache_dir, m, data, epochs, weights)
            if files[m].exists():
                with np.load(files[m], allow_pickle=False) as z:
                    r = min(repeats, z["scan"].shape[0])
                    scan[:r], photo[:r], done[:r * folds] = z["scan"][:r], z["photo"][:r], z["done"][:r * folds]
                log(f"{m}: {int(done.sum())} of {done.size} folds from {files[m]}")
        state[f"{m}|scan"], state[f"{m}|photo"], state[f"{m}|done"] = scan, photo, done

    def keep(m: str) -> None:
        if cache_dir is None:
            return
        cache_dir.mkdir(parents=True, exist_ok=True)
        scan, photo, done = state[f"{m}|scan"], state[f"{m}|photo"], state[f"{m}|done"]
        if files[m].exists():  # a cache with more repeats keeps them
            with np.load(files[m], allow_pickle=False) as z:
                old = {k: z[k].copy() for k in z.files}
            if old["scan"].shape[0] > scan.shape[0]:
                r = scan.shape[0]
                old["scan"][:r], old["photo"][:r] = scan, photo
                old["done"][:done.size] |= done
                scan, photo, done = old["scan"], old["photo"], old["done"]
        np.savez(files[m], scan=scan, photo=photo, done=done)

    for k, (tr, te) in enumerate(folds_of(y, folds, repeats)):
        r = k // folds
        held = np.where(np.isin(page, te))[0]
        into = np.isin(page, tr)
        for m in members:
            if state[f"{m}|done"][k]:
                continue
            t0 = time.time()
            fit, x, xp = fitters[m]
            x_tr, y_tr, x_te = x[tr], y[tr], x[te]
            if xp is not None:
                x_tr, y_tr = np.concatenate([x_tr, xp[into]]), np.r_[y_tr, y[page[into]]]
                x_te = np.concatenate([x_te, xp[held]])
            out = log_probs(fit(x_tr, y_tr, x_te, seed=k), m)
            state[f"{m}|scan"][r, te] = out[:len(te)]
            if xp is not None:
                state[f"{m}|photo"][r, held] = out[len(te):]
            state[f"{m}|done"][k] = True
            keep(m)
            log(f"  fold {k + 1}/{folds * repeats} {m}: {time.time() - t0:.0f} s")
    return state


# --------------------------------------------------------------------------------------------- stacker
def fit_stacker(z: np.ndarray, y: np.ndarray, seed: int = 0):
    """Multinomial logistic regression on the members' log-probabilities (rows x members*C). Without class
    weights: the members were trained class-weighted already, and the MI weight comes after. A one-off check
    (training.studies.stacking_cv's first repeat with this function changed, not kept as a script): balanced
    weights gave photos accuracy 0.80 against 0.82 without (MI precision 0.37 / 0.50); C from 0.03 to 3
    changed accuracy by <= 0.015."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=STACK_C, max_iter=5000, random_state=seed).fit(z, y)


def stacker_proba(clf, z: np.ndarray) -> np.ndarray:
    p = np.zeros((len(z), C))
    p[:, clf.classes_] = clf.predict_proba(z)
    return p


def stacker_oof(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The stacker's own out-of-fold probabilities on its training rows (for choosing the MI weight). The
    rows are not grouped by page: a page and its photo may fall in different inner folds, a small leak in
    the "stack" candidate's temperature and MI weight (the shipped "mean" does not use this)."""
    from sklearn.model_selection import StratifiedKFold

    p = np.zeros((len(y), C))
    for a, b in StratifiedKFold(M.INNER_FOLDS, shuffle=True, random_state=0).split(z, y):
        p[b] = stacker_proba(fit_stacker(z[a], y[a]), z[b])
    return p


def stacked_rows(state: dict, data: dict, members: tuple[str, ...], repeat: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(rows, labels) the stacker learns from: every page's and every photo's out-of-fold log-probabilities
    of `members`, side by side, in one repeat."""
    y, page = data["y"], data["photo_page"]
    z = np.concatenate([np.concatenate([state[f"{m}|scan"][repeat], state[f"{m}|photo"][repeat]]) for m in members],
                       axis=1)
    return z, np.r_[y, y[page]]


def calibration(z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(temperature, MI weight) of a stacker fitted on rows z, both chosen on its own out-of-fold output."""
    log_p = np.log(np.clip(stacker_oof(z, y), 1e-12, 1.0))
    temperature = M.fit_temperature(log_p, y)
    return temperature, M.choose_mi_weight(y, M.softmax(log_p, temperature))


def fit_combiner(kind: str, members: tuple[str, ...], z: list[np.ndarray], y: np.ndarray) -> dict:
    """The arrays of an `inference.diagnosis.Combiner` fitted on out-of-fold rows (one log-probability
    array per member). "mean": each member's temperature, then the MI weight chosen on the mean of their
    tempered probabilities (those rows are out of fold already). "stack": `fit_stacker` on the members
    side by side, its temperature and MI weight chosen on its own inner out-of-fold output (`calibration`)."""
    from inference.diagnosis import Combiner

    params: dict = {"kind": kind, "members": np.array(members), "temperatures": np.ones(len(members))}
    if kind == "mean":
        params["temperatures"] = np.array([M.fit_temperature(m, y) for m in z])
        params["mi_weight"] = 1.0
        params["mi_weight"] = M.choose_mi_weight(y, Combiner(params).probabilities(z))
    elif kind == "stack":
        x = np.concatenate(z, axis=1)
        clf = fit_stacker(x, y)
        full = np.zeros((C, x.shape[1]))
        full[clf.classes_] = clf.coef_
        bias = np.full(C, -1e9)
        bias[clf.classes_] = clf.intercept_
        params.update(coef=full, intercept=bias)
        params["temperature"], params["mi_weight"] = calibration(x, y)
    else:
        raise ValueError(kind)
    return params


def export_combiner(params: dict, path: Path) -> None:
    np.savez(path, **{k: np.asarray(v) for k, v in params.items()})


# ------------------------------------------------------------------------------------------------ main
def final_signal_model(data: dict, epochs: int, weights: Path, out: Path) -> None:
    """The 1-D ResNet-50 fine-tuned on all of train+val with the photos, written quantised."""
    from inference.signal_model import RECOMMENDED_WIDTH, save
    from training.synthetic_pathology import LABELS as SYNTH

    kept: list = []
    x = np.concatenate([data["sig"], data["sig_photo"]])
    y = np.r_[data["y"], data["y"][data["photo_page"]]]
    resnet1d_fit_predict(weights, epochs, keep=kept)(x, y, x[:0], seed=0)
    save(kept[0], out, RECOMMENDED_WIDTH, len(SYNTH))


def test_once(test_items: list[dict], workers: int, log=print) -> dict:
    """The shipped files on the test split's pages and photos (refused pictures count as wrong)."""
    from inference.diagnosis import Diagnosis
    from inference.features import features
    from training.data import DEFAULT_DATA
    from training.evaluate import metrics
    from training.readings_cache import PHOTO_SEED0, readings

    y = M.labels_of(test_items)
    diag = Diagnosis()
    rep = {}
    for kind, seed0 in (("scans", None), ("photos", PHOTO_SEED0)):
        jobs = [(str(Path(DEFAULT_DATA) / it["name"]), it["sha256"], None if seed0 is None else seed0 + i)
                for i, it in enumerate(test_items)]
        probs = np.zeros((len(y), C))
        refused = 0
        for i, r in enumerate(readings(jobs, workers=workers, log=log)):
            if isinstance(r, str):
                refused += 1
                probs[i] = np.full(C, 1.0 / C)
                probs[i, (y[i] + 1) % C] += 1e-3  # a refusal is counted as a wrong answer
            else:
                probs[i] = diag.probabilities(features(r[0], r[1]), r[0])
        from inference.classifier import result_from_probs

        uncertain = np.array([result_from_probs(p).uncertain for p in probs])
        certain_right = (probs.argmax(1) == y)[~uncertain]
        rep[kind] = {"refused": refused, **metrics(y, probs), "uncertain_share": float(uncertain.mean()),
                     "accuracy_when_certain": float(certain_right.mean()) if len(certain_right) else None}
    return rep


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.stacking", description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--weights", type=Path, default=None, help="pre-trained weights (default: training.resnet1d's)")
    ap.add_argument("--out-dir", type=Path, default=REPO_ROOT / "inference" / "model")
    ap.add_argument("--oof-dir", type=Path, default=OOF_DIR, help="where the out-of-fold outputs are kept")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args(argv)
    from training.resnet1d import DEFAULT_WEIGHTS

    def log(msg):
        print(msg, flush=True)

    t0 = time.time()
    weights = a.weights or DEFAULT_WEIGHTS
    if not weights.exists():
        raise FileNotFoundError(f"{weights}: pre-train first (python -m training.resnet1d pretrain)")
    split = M.split_items()
    dev = split["train"] + split["val"]
    log("data: train+val pages and their photos (cached readings)")
    data = load_data(dev, M.TRAIN_PHOTO_SEED0, a.workers, log=log)
    from training.readings_cache import PHOTO_SEED0

    for seed0 in (None, PHOTO_SEED0):  # the test pages read now, before TensorFlow runs in this process
        M.page_features(split["test"], seed0, a.workers, log)
    log(f"members out of fold ({a.folds} folds)")
    state = out_of_fold(data, SHIPPED, a.folds, 1, a.epochs, weights, a.oof_dir, log)
    z, yz = stacked_rows(state, data, SHIPPED)
    params = fit_combiner(COMBINER, SHIPPED, np.split(z, len(SHIPPED), axis=1), yz)
    a.out_dir.mkdir(parents=True, exist_ok=True)
    export_combiner(params, a.out_dir / "combiner.npz")
    log(f"combiner ({COMBINER}) written: MI weight {params['mi_weight']}; the final signal model")
    final_signal_model(data, a.epochs, weights, a.out_dir / "signal_resnet1d.npz")
    rep = {"command": "python -m training.stacking " + " ".join(sys.argv[1:] if argv is None else argv),
           "members": list(SHIPPED), "folds": a.folds, "epochs": a.epochs, "combiner": COMBINER,
           "combiner_params": {k: np.asarray(v).tolist() for k, v in params.items()},
           "pretrained_weights": str(weights)}
    shipped = a.out_dir.resolve() == (REPO_ROOT / "inference" / "model").resolve()
    if shipped:  # the files the product serves: tested once, reported in reports/
        log("the test split, once")
        rep["test"] = test_once(split["test"], a.workers, log)
    rep["minutes"] = (time.time() - t0) / 60
    reports = REPO_ROOT / "reports" if shipped else a.out_dir
    (reports / "stack_model.json").write_text(json.dumps(rep, indent=1) + "\n")
    if "test" in rep:
        md = markdown(rep)
        (reports / "stack_model.md").write_text(md)
        log(md)
    return 0


def markdown(rep: dict) -> str:
    """The test split's table, beside the measurement model alone and HOG + logistic regression on the same
    pages (from reports/measure_model.json, made by the `measure` stage)."""
    def row(name, r):
        rec = " / ".join(f"{r['per_class'][c]['recall']:.2f}" for c in LABELS)
        return (f"| {name} | {r['accuracy']:.3f} [{r['accuracy_ci95'][0]:.3f}, {r['accuracy_ci95'][1]:.3f}] "
                f"| {r['macro_f1']:.3f} [{r['macro_f1_ci95'][0]:.3f}, {r['macro_f1_ci95'][1]:.3f}] | {rec} "
                f"| {r['per_class'][LABELS[0]]['precision']:.2f} | {r['ece']:.3f} |")

    lines = ["# The shipped diagnosis on the test split (measurement model + 1-D ResNet-50)", "",
             f"`{rep['command']}` — combiner `{rep['combiner']}`, {rep['minutes']:.0f} min. Tested once; 95 % bootstrap "
             "CIs. A picture the reading refuses counts as a wrong answer.", "",
             "| model, pages | accuracy | macro-F1 | recall MI / HB / PMI / N | MI precision | ECE |",
             "|---|---|---|---|---|---|"]
    for kind, r in rep["test"].items():
        lines.append(row(f"combined, {kind}", r))
    ref = REPO_ROOT / "reports" / "measure_model.json"
    if ref.exists():
        old = json.loads(ref.read_text()).get("test", {})
        for key, name in (("scans", "measurement model alone, scans"), ("photos", "measurement model alone, photos"),
                          ("hog_logreg_scans", "HOG + logistic regression, scans")):
            if key in old and "per_class" in old[key]:
                lines.append(row(name, old[key]))
    for kind, r in rep["test"].items():
        lines.append(f"\n{kind}: refused {r['refused']}; flagged uncertain {r['uncertain_share']:.2f}, accuracy of "
                     f"the answers given as certain {r['accuracy_when_certain']:.3f}.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
