"""The diagnosis of a page read: the measurement model and the signal model, stacked.

    probs = get_diagnosis().probabilities(features(digitized, measurements), digitized)   # LABELS order

Members: `inference.measure_model` (gradient boosting on what the digitizer measured) and
`inference.signal_model` (the 1-D ResNet-50 on the digitized signals). `Combiner` turns their outputs
(log-probabilities) into the answer, with what `training.stacking` fitted on out-of-fold outputs only
(`model/combiner.npz`): the members' temperatures and their mean, or a logistic-regression stacker and its
temperature -- whichever repeated CV chose (reports/stacking_cv.md) -- and the MI decision weight (a missed
acute MI costs more than a false alarm).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from inference.labels import LABELS

COMBINER_FILE = Path(__file__).resolve().parent / "model" / "combiner.npz"
MEMBERS = ("measure", "resnet1d pre-trained")  # the combiner's input order


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


class Combiner:
    """The members' log-probabilities -> the diagnosis's probabilities, from arrays (`model/combiner.npz`, or
    the dict `training.stacking.fit_combiner` returns; no pickled estimator: see inference.measure_model).

    kind "mean": each member's probabilities at its own temperature, averaged;
    kind "stack": a multinomial logistic regression on the log-probabilities side by side, its logits
    divided by one temperature.
    Then MI's prior is multiplied by the MI decision weight and the probabilities renormalised."""

    def __init__(self, params: dict):
        self.kind = str(params["kind"])
        self.members = tuple(str(m) for m in params["members"])
        self.temperatures = np.asarray(params["temperatures"], np.float64)
        self.coef = np.asarray(params.get("coef", np.zeros((0, 0))), np.float64)
        self.intercept = np.asarray(params.get("intercept", np.zeros(0)), np.float64)
        self.temperature = float(params.get("temperature", 1.0))
        self.mi_weight = float(params["mi_weight"])
        if self.kind not in ("mean", "stack"):
            raise ValueError(f"unknown combiner {self.kind!r}")

    @classmethod
    def load(cls, path: str | Path = COMBINER_FILE) -> "Combiner":
        with np.load(path, allow_pickle=False) as z:
            return cls({k: z[k] for k in z.files})

    def probabilities(self, member_log_probs: list[np.ndarray]) -> np.ndarray:
        """(n, classes) from one (n, classes) log-probability array per member, in `members` order."""
        z = [np.atleast_2d(np.asarray(m, np.float64)) for m in member_log_probs]
        if len(z) != len(self.members):
            raise ValueError(f"{len(z)} members given, the combiner has {len(self.members)}")
        if self.kind == "mean":
            p = np.mean([np.exp(log_softmax(m / t)) for m, t in zip(z, self.temperatures)], axis=0)
        else:
            p = np.exp(log_softmax((np.concatenate(z, axis=1) @ self.coef.T + self.intercept) / self.temperature))
        p[:, LABELS.index("myocardial_infarction")] *= self.mi_weight
        return p / p.sum(axis=1, keepdims=True)


class Diagnosis:
    def __init__(self, combiner: str | Path = COMBINER_FILE, measure: str | Path | None = None,
                 signal: str | Path | None = None):
        """The shipped members (loaded once per process, shared) unless other files are named."""
        from inference.measure_model import MeasureModel, get_measure_model
        from inference.signal_model import SignalModel, get_signal_model

        self.combiner = Combiner.load(combiner)
        if self.combiner.members != MEMBERS:
            raise ValueError(f"{combiner} combines {self.combiner.members}, this code {MEMBERS}; "
                             "retrain (python -m training.stacking)")
        self.measure = get_measure_model() if measure is None else MeasureModel(measure)
        self.signal = get_signal_model() if signal is None else SignalModel(signal)

    def member_log_probs(self, feature_row: np.ndarray, digitized) -> list[np.ndarray]:
        return [log_softmax(self.measure.raw_scores(feature_row)),
                log_softmax(self.signal.logits(digitized))[None]]

    def probabilities(self, feature_row: np.ndarray, digitized) -> np.ndarray:
        """(classes,) calibrated probabilities of one page."""
        return self.combiner.probabilities(self.member_log_probs(feature_row, digitized))[0]


_lock = threading.Lock()
_diagnosis: Diagnosis | None = None


def get_diagnosis() -> Diagnosis:
    """The shipped models, loaded once per process (thread-safe)."""
    global _diagnosis
    with _lock:
        if _diagnosis is None:
            _diagnosis = Diagnosis()
        return _diagnosis
