"""The measurement model: the diagnosis from what the digitizer measured (rate, rhythm, intervals,
axis, ST, Q, R, T per lead; `inference.features`), a gradient-boosted tree ensemble fitted by
`training.measure_model` and calibrated by a temperature on out-of-fold predictions.

    probs = get_measure_model().probabilities(features(digitized, measurements))  # in LABELS order

The model ships as plain arrays (`model/measure_model.npz`: every tree's nodes, the baseline, the
temperature, the feature names), evaluated here with NumPy. A pickled scikit-learn estimator would tie
the served file to the exact scikit-learn version that wrote it and would run code on loading; arrays
do neither. `training.measure_model.export` writes the file from scikit-learn's
`HistGradientBoostingClassifier` and a test checks both give the same probabilities.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from inference.features import FEATURE_NAMES
from inference.labels import LABELS

MODEL_FILE = Path(__file__).resolve().parent / "model" / "measure_model.npz"


class MeasureModel:
    """Trees as flat arrays: per node the feature, threshold, where a missing value goes, the children
    (global indices, -1 at a leaf) and the leaf value; one list of root indices per boosting round and
    class. Raw scores = baseline + sum of the reached leaves; probabilities = softmax(scores / T)."""

    def __init__(self, path: str | Path = MODEL_FILE):
        with np.load(path, allow_pickle=False) as z:
            self.feature = z["feature"]
            self.threshold = z["threshold"]
            self.missing_left = z["missing_left"]
            self.left, self.right = z["left"], z["right"]
            self.value = z["value"]
            self.roots = z["roots"]  # (rounds, classes)
            self.baseline = z["baseline"]  # (classes,)
            self.temperature = float(z["temperature"])
            self.mi_weight = float(z["mi_weight"]) if "mi_weight" in z.files else 1.0
            names = tuple(str(n) for n in z["feature_names"])
        if names != FEATURE_NAMES:
            raise ValueError(f"{path} was fitted on other features; retrain it (python -m training.measure_model)")
        if self.roots.shape[1] != len(LABELS):
            raise ValueError(f"{path} has {self.roots.shape[1]} classes, expected {len(LABELS)}")

    def raw_scores(self, x: np.ndarray) -> np.ndarray:
        """(n, classes) summed tree outputs for feature rows x (n, features); NaN = not measured."""
        x = np.atleast_2d(np.asarray(x, np.float64))
        n = len(x)
        node = np.broadcast_to(self.roots.reshape(1, -1), (n, self.roots.size)).copy()
        rows = np.arange(n)[:, None]
        while True:
            inner = self.left[node] >= 0
            if not inner.any():
                break
            v = x[rows, self.feature[node]]
            go_left = np.where(np.isnan(v), self.missing_left[node], v <= self.threshold[node])
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)
        leaves = self.value[node].reshape(n, *self.roots.shape)
        return self.baseline[None, :] + leaves.sum(axis=1)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities, (classes,) for one feature vector or (n, classes) for rows,
        with MI's prior raised by the model's MI decision weight (chosen in nested CV: a missed acute
        MI costs more than a false alarm)."""
        z = self.raw_scores(x) / self.temperature
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p[:, LABELS.index("myocardial_infarction")] *= self.mi_weight
        p /= p.sum(axis=1, keepdims=True)
        return p[0] if np.asarray(x).ndim == 1 else p


_lock = threading.Lock()
_model: MeasureModel | None = None


def get_measure_model() -> MeasureModel:
    """The shipped model, loaded once per process (thread-safe)."""
    global _model
    with _lock:
        if _model is None:
            _model = MeasureModel()
        return _model
