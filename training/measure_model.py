"""Train and evaluate the measurement model: `python -m training.measure_model`.

Reads top to bottom: data (every page read once by the digitizer, cached; its clinical features),
model (gradient boosting), repeated stratified k-fold CV on train+val beside HOG + logistic regression
on the same folds, a temperature fitted on the out-of-fold predictions, the final fit on all of
train+val, one evaluation on the test split (scans and phone photos rendered from them), the report
(`reports/measure_model.{md,json}`) and the shipped arrays (`inference/model/measure_model.npz`).

With `--photos` every train+val page also contributes a phone photo rendered from it (its own seed), so
the model learns the photo path's measurement errors; a page and its photo always fall in the same fold.
Nothing is tuned on the test split.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from inference.features import FEATURE_NAMES, features
from inference.labels import LABELS
from inference.measure_model import MODEL_FILE
from training.data import DEFAULT_DATA, REPO_ROOT
from training.readings_cache import PHOTO_SEED0, readings

TRAIN_PHOTO_SEED0 = 5000  # photo seed of train+val page i (the test pages' photos use PHOTO_SEED0 + i)
REPORTS = REPO_ROOT / "reports"


# ------------------------------------------------------------------------------------------ data
def split_items() -> dict[str, list[dict]]:
    return json.loads((REPO_ROOT / "training" / "split.json").read_text())


def page_features(items: list[dict], photo_seed0: int | None, workers: int = 2, log=print) -> tuple[np.ndarray, np.ndarray]:
    """(features (n, F) with NaN rows for refused pictures, refused flags) of the pages as scans
    (photo_seed0 None) or as phone photos rendered with seed photo_seed0 + i."""
    jobs = [(str(Path(DEFAULT_DATA) / it["name"]), it["sha256"], None if photo_seed0 is None else photo_seed0 + i)
            for i, it in enumerate(items)]
    x = np.full((len(items), len(FEATURE_NAMES)), np.nan, np.float32)
    refused = np.zeros(len(items), bool)
    for i, r in enumerate(readings(jobs, workers=workers, log=log)):
        if isinstance(r, str):
            refused[i] = True
        else:
            x[i] = features(*r)
    return x, refused


def labels_of(items: list[dict]) -> np.ndarray:
    return np.array([LABELS.index(it["label"]) for it in items])


# ----------------------------------------------------------------------------------------- model
def make_model(seed: int = 0):
    """Shallow boosted trees: they take NaN (not measured) as it is and find thresholds such as
    'ST elevation >= 0.1 mV in two leads' themselves. Settings chosen by the CV below."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=150, learning_rate=0.06, max_leaf_nodes=6, min_samples_leaf=8,
                                          l2_regularization=1.0, class_weight="balanced", early_stopping=False,
                                          random_state=seed)


def fit_predict_model(x_tr, y_tr, x_te, seed: int = 0) -> np.ndarray:
    """Raw scores (log-odds) of the model fitted on (x_tr, y_tr), for x_te."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_model(seed).fit(x_tr, y_tr).decision_function(x_te)


def softmax(z: np.ndarray, t: float = 1.0) -> np.ndarray:
    z = z / t
    z = z - z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=-1, keepdims=True)


def fit_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising the out-of-fold negative log-likelihood (calibration)."""
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        p = softmax(scores, float(np.exp(log_t)))
        return float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-12)))

    return float(np.exp(minimize_scalar(nll, bounds=(-3, 3), method="bounded").x))


# ---------------------------------------------------------------------------------------- CV
def cross_validate(x: np.ndarray, y: np.ndarray, fit_predict, folds: int, repeats: int,
                   extra: tuple[np.ndarray, np.ndarray] | None = None, train_on_extra: bool = True,
                   log=print) -> tuple[np.ndarray, np.ndarray | None]:
    """Out-of-fold outputs (repeats, n, classes) of repeated stratified k-fold over the pages, and of
    the `extra` rows. `extra` = (rows, page index of each row): photos of the pages. A photo is
    predicted in its page's held-out fold and, with train_on_extra, joins its page's training folds
    (never a fold that holds its page out)."""
    from sklearn.model_selection import RepeatedStratifiedKFold

    out = np.zeros((repeats, len(y), len(LABELS)))
    out_extra = None if extra is None else np.zeros((repeats, len(extra[0]), len(LABELS)))
    cv = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=0)
    for k, (tr, te) in enumerate(cv.split(x, y)):
        x_tr, y_tr, x_te = x[tr], y[tr], x[te]
        if extra is not None:
            rows, page = extra
            if train_on_extra:
                keep = np.isin(page, tr)
                x_tr, y_tr = np.vstack([x_tr, rows[keep]]), np.r_[y_tr, y[page[keep]]]
            held = np.where(np.isin(page, te))[0]
            x_te = np.vstack([x_te, rows[held]])
        pred = fit_predict(x_tr, y_tr, x_te, seed=k)
        out[k // folds, te] = pred[:len(te)]
        if extra is not None:
            out_extra[k // folds, held] = pred[len(te):]
        log(f"  fold {k + 1}/{folds * repeats}")
    return out, out_extra


MI_WEIGHTS = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)  # the MI decision weights tried
INNER_FOLDS = 3  # the inner CV that chooses an outer fold's MI weight (4 fits per outer fold: affordable on 2 cores)


def weighted(p: np.ndarray, mi_weight: float) -> np.ndarray:
    """Probabilities with MI's prior multiplied by mi_weight, renormalised (a cost-sensitive decision:
    a missed acute MI costs more than a false alarm)."""
    q = p * np.r_[mi_weight, np.ones(len(LABELS) - 1)]
    return q / q.sum(axis=-1, keepdims=True)


def decision_score(y: np.ndarray, p: np.ndarray) -> float:
    """What the MI weight is chosen for: the classes' mean F-score with MI's F2 (recall counted twice
    as much as precision) in place of its F1."""
    from sklearn.metrics import fbeta_score

    pred = p.argmax(-1)
    f = fbeta_score(y, pred, beta=1.0, average=None, labels=list(range(len(LABELS))), zero_division=0)
    f[0] = fbeta_score(y, pred, beta=2.0, labels=[0], average=None, zero_division=0)[0]
    return float(f.mean())


def choose_mi_weight(y: np.ndarray, p: np.ndarray) -> float:
    """The MI weight of MI_WEIGHTS with the best `decision_score` on these (out-of-fold) predictions."""
    return max(MI_WEIGHTS, key=lambda w: decision_score(y, weighted(p, w)))


def nested_mi_weight(x: np.ndarray, y: np.ndarray, extra: tuple[np.ndarray, np.ndarray], train_on_extra: bool,
                     folds: int, repeats: int, log=print, fit_predict=fit_predict_model
                     ) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """The temperature and the MI weight chosen inside each outer fold (an inner INNER_FOLDS-fold CV of that
    fold's training pages, never its held-out pages), applied to the outer fold's held-out predictions:
    out-of-fold weighted probabilities of the pages (repeats, n, classes) and of their photos, and the
    weights chosen."""
    from sklearn.model_selection import RepeatedStratifiedKFold

    rows, page = extra
    out = np.zeros((repeats, len(y), len(LABELS)))
    out_extra = np.zeros((repeats, len(rows), len(LABELS)))
    chosen = []
    cv = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=0)
    for k, (tr, te) in enumerate(cv.split(x, y)):
        keep = np.isin(page, tr)
        inner_page = np.searchsorted(tr, page[keep])  # the photos' pages, indexed within tr
        s_in, s_in_extra = cross_validate(x[tr], y[tr], fit_predict, INNER_FOLDS, 1, (rows[keep], inner_page),
                                          train_on_extra, log=lambda m: None)
        temperature = fit_temperature(s_in[0], y[tr])
        p_in = np.concatenate([softmax(s_in[0], temperature), softmax(s_in_extra[0], temperature)])
        w = choose_mi_weight(np.r_[y[tr], y[tr][inner_page]], p_in)
        chosen.append(w)
        x_tr, y_tr = x[tr], y[tr]
        if train_on_extra:
            x_tr, y_tr = np.vstack([x_tr, rows[keep]]), np.r_[y_tr, y[page[keep]]]
        held = np.where(np.isin(page, te))[0]
        pred = softmax(fit_predict(x_tr, y_tr, np.vstack([x[te], rows[held]]), seed=k), temperature)
        out[k // folds, te] = weighted(pred[:len(te)], w)
        out_extra[k // folds, held] = weighted(pred[len(te):], w)
        log(f"  nested fold {k + 1}/{folds * repeats}: MI weight {w}")
    return out, out_extra, chosen


def cv_summary(y: np.ndarray, probs: np.ndarray) -> dict:
    """Mean and spread over the repeats of accuracy, macro-F1, per-class recall, MI precision, ECE."""
    from sklearn.metrics import f1_score, precision_score, recall_score

    from training.evaluate import ece

    k = list(range(len(LABELS)))
    rows = []
    for p in probs:
        pred = p.argmax(1)
        rows.append({"accuracy": float((pred == y).mean()),
                     "macro_f1": float(f1_score(y, pred, average="macro", labels=k, zero_division=0)),
                     "recall": recall_score(y, pred, average=None, labels=k, zero_division=0).tolist(),
                     "mi_precision": float(precision_score(y, pred, labels=[0], average=None, zero_division=0)[0]),
                     "ece": ece(y, p)[0]})

    def ms(key):
        v = np.array([r[key] for r in rows], float)
        return {"mean": v.mean(axis=0).tolist(), "sd": v.std(axis=0).tolist()}

    return {key: ms(key) for key in ("accuracy", "macro_f1", "recall", "mi_precision", "ece")}


def hog_pages(items: list[dict], log=print) -> np.ndarray:
    from training.baselines import hog_features

    log(f"HOG of {len(items)} pages ...")
    return np.stack([hog_features(str(Path(DEFAULT_DATA) / it["name"])) for it in items])


# ------------------------------------------------------------------------------------- export
def export(clf, temperature: float, path: Path = MODEL_FILE, mi_weight: float = 1.0) -> None:
    """scikit-learn's fitted HistGradientBoostingClassifier -> the arrays `inference.measure_model` reads."""
    feature, threshold, missing_left, left, right, value = [], [], [], [], [], []
    roots = np.zeros((len(clf._predictors), len(clf._predictors[0])), np.int64)
    for i, per_class in enumerate(clf._predictors):
        for c, tree in enumerate(per_class):
            nodes = tree.nodes
            if nodes["is_categorical"].any():
                raise ValueError("categorical splits are not exported")
            base = len(feature)
            roots[i, c] = base
            leaf = nodes["is_leaf"].astype(bool)
            feature.extend(nodes["feature_idx"].tolist())
            threshold.extend(nodes["num_threshold"].tolist())
            missing_left.extend(nodes["missing_go_to_left"].astype(bool).tolist())
            left.extend(np.where(leaf, -1, nodes["left"].astype(np.int64) + base).tolist())
            right.extend(np.where(leaf, -1, nodes["right"].astype(np.int64) + base).tolist())
            value.extend(nodes["value"].tolist())
    np.savez_compressed(
        path, feature=np.array(feature, np.int32), threshold=np.array(threshold, np.float64),
        missing_left=np.array(missing_left, bool), left=np.array(left, np.int64), right=np.array(right, np.int64),
        value=np.array(value, np.float64), roots=roots, baseline=np.asarray(clf._baseline_prediction, np.float64).ravel(),
        temperature=np.float64(temperature), mi_weight=np.float64(mi_weight), feature_names=np.array(FEATURE_NAMES))


# ---------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.measure_model", description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--photos", action="store_true", help="train on a rendered photo of every page too")
    ap.add_argument("--no-hog", action="store_true", help="skip the HOG baseline")
    ap.add_argument("--out", type=Path, default=MODEL_FILE)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args(argv)
    t0 = time.time()

    def log(msg):
        print(msg, flush=True)

    # data
    split = split_items()
    dev, test = split["train"] + split["val"], split["test"]
    y, y_test = labels_of(dev), labels_of(test)
    x, _ = page_features(dev, None, a.workers, log)
    xp, refused = page_features(dev, TRAIN_PHOTO_SEED0, a.workers, log)
    extra = (xp[~refused], np.where(~refused)[0])  # the photos the reading accepted, with their page
    x_test, ref_test = page_features(test, None, a.workers, log)
    xp_test, refp_test = page_features(test, PHOTO_SEED0, a.workers, log)

    # cross-validation on train+val
    rep: dict = {"command": "python -m training.measure_model " + " ".join(sys.argv[1:] if argv is None else argv),
                 "folds": a.folds, "repeats": a.repeats, "photos_in_training": a.photos,
                 "dev_counts": np.bincount(y, minlength=len(LABELS)).tolist(),
                 "test_counts": np.bincount(y_test, minlength=len(LABELS)).tolist()}
    log(f"measurement model: {a.folds}-fold CV x {a.repeats}")
    scores, scores_photo = cross_validate(x, y, fit_predict_model, a.folds, a.repeats, extra, a.photos, log)
    temperature = fit_temperature(scores.reshape(-1, len(LABELS)), np.tile(y, a.repeats))
    rep["temperature"] = temperature
    rep["cv"] = {"measure_model (MI weight 1)": cv_summary(y, softmax(scores, temperature)),
                 "measure_model (MI weight 1), photos of the held-out pages":
                     cv_summary(y[extra[1]], softmax(scores_photo, temperature))}
    # the MI decision weight: chosen in nested folds for the CV's figures, then once on all out-of-fold
    # predictions for the shipped model (the same procedure on all the data)
    log("MI decision weight, nested CV")
    nested, nested_photo, chosen = nested_mi_weight(x, y, extra, a.photos, a.folds, a.repeats, log)
    rep["cv"]["measure_model"] = cv_summary(y, nested)
    rep["cv"]["measure_model, photos of the held-out pages"] = cv_summary(y[extra[1]], nested_photo)
    rep["mi_weights_chosen_in_nested_folds"] = chosen
    oof = np.concatenate([softmax(scores, temperature).reshape(-1, len(LABELS)),
                          softmax(scores_photo, temperature).reshape(-1, len(LABELS))])
    mi_weight = choose_mi_weight(np.r_[np.tile(y, a.repeats), np.tile(y[extra[1]], a.repeats)], oof)
    rep["mi_weight"] = mi_weight
    if not a.no_hog:
        from training.baselines import fit_predict_hog

        h = hog_pages(dev, log)
        rep["cv"]["hog_logreg"] = cv_summary(y, cross_validate(h, y, fit_predict_hog, a.folds, a.repeats, log=log)[0])

    # the final fit, exported; then the test split, once
    final = make_model(0)
    x_all, y_all = (np.vstack([x, extra[0]]), np.r_[y, y[extra[1]]]) if a.photos else (x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        final.fit(x_all, y_all)
    export(final, temperature, a.out, mi_weight)
    from inference.measure_model import MeasureModel
    from training.evaluate import metrics

    served = MeasureModel(a.out)
    rep["test"] = {}
    for kind, xt, refused in (("scans", x_test, ref_test), ("photos", xp_test, refp_test)):
        p = served.probabilities(xt)
        p[refused] = 0.0  # a refused picture gets no diagnosis: counted as wrong
        m = metrics(y_test, p)
        m["refused"] = int(refused.sum())
        rep["test"][kind] = m
    if not a.no_hog:
        from training.baselines import fit_predict_hog

        rep["test"]["hog_logreg_scans"] = metrics(y_test, fit_predict_hog(h, y, hog_pages(test, log)))
    rep["seconds"] = time.time() - t0
    write_report(rep, REPORTS if a.out == MODEL_FILE else a.out.parent)  # a trial run reports beside its model
    log(json.dumps({k: rep[k] for k in ("cv", "temperature")}, indent=1))
    log(f"test: {json.dumps({k: {'acc': v['accuracy'], 'f1': v['macro_f1']} for k, v in rep['test'].items()})}")
    return 0


def write_report(rep: dict, folder: Path = REPORTS) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "measure_model.json").write_text(json.dumps(rep, indent=1) + "\n")

    def cv_row(name, s):
        r = s["recall"]["mean"]
        return (f"| {name} | {s['accuracy']['mean']:.3f} ± {s['accuracy']['sd']:.3f} | "
                f"{s['macro_f1']['mean']:.3f} ± {s['macro_f1']['sd']:.3f} | "
                + " / ".join(f"{v:.2f}" for v in r) + f" | {s['mi_precision']['mean']:.2f} | {s['ece']['mean']:.3f} |")

    def test_row(name, m):
        pc = m["per_class"]
        return (f"| {name} | {m['accuracy']:.3f} [{m['accuracy_ci95'][0]:.3f}, {m['accuracy_ci95'][1]:.3f}] | "
                f"{m['macro_f1']:.3f} [{m['macro_f1_ci95'][0]:.3f}, {m['macro_f1_ci95'][1]:.3f}] | "
                + " / ".join(f"{pc[k]['recall']:.2f}" for k in LABELS)
                + f" | {pc['myocardial_infarction']['precision']:.2f} | {m['ece']:.3f} | {m.get('refused', 0)} |")

    lines = ["# The measurement model", "",
             f"Command: `{rep['command']}` ({rep['seconds'] / 60:.1f} min on this 2-core CPU). "
             f"Pages: train+val {rep['dev_counts']}, test {rep['test_counts']} (MI / HB / PMI / Normal). "
             f"Photos of the pages in training: {rep['photos_in_training']}. Temperature {rep['temperature']:.2f}.", "",
             f"## Repeated stratified {rep['folds']}-fold CV × {rep['repeats']} on train+val (mean ± sd over repeats)", "",
             "| model | accuracy | macro-F1 | recall MI / HB / PMI / Normal | MI precision | ECE |",
             "|---|---|---|---|---|---|"]
    for name, s in rep["cv"].items():
        lines.append(cv_row(name, s))
    if "mi_weight" in rep:
        lines += ["", f"MI decision weight shipped: {rep['mi_weight']:g} (chosen on all the out-of-fold predictions). "
                  "The rows without '(MI weight 1)' are the nested CV: each outer fold's weight chosen by an inner "
                  f"{INNER_FOLDS}-fold CV of its own training pages (weights chosen: "
                  + ", ".join(f"{w:g}" for w in rep["mi_weights_chosen_in_nested_folds"]) + ")."]
    lines += ["", "## Test split, evaluated once (95 % bootstrap CIs)", "",
              "| pages | accuracy | macro-F1 | recall MI / HB / PMI / Normal | MI precision | ECE | refused |",
              "|---|---|---|---|---|---|---|"]
    for name, m in rep["test"].items():
        lines.append(test_row(name, m))
    lines += ["", "A refused picture (the reading found no usable ECG) counts as wrong.", ""]
    (folder / "measure_model.md").write_text("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())
