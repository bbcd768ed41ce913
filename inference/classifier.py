"""Loaded-once image classifier (ResNet50 + lead head): non-ECG refusal, page prediction from lead crops, and the
class-activation maps `inference.heatmap` draws."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from inference import ecg_check
from inference import preprocess
from inference.labels import DISPLAY_NAMES, LABELS
from inference.lead_head import LeadHead, head_path
from inference.model_def import MODEL_FILE

# A page is "uncertain" when the top class is below this probability or within MARGIN of the second.
UNCERTAIN_BELOW = 0.60
UNCERTAIN_MARGIN = 0.20


@dataclass
class Result:
    is_ecg: bool
    reason: str | None = None  # why the image was refused, technical English (None when it was classified)
    label: str | None = None  # one of LABELS, None when refused
    display_name: str | None = None
    confidence: float | None = None  # probability of `label`
    uncertain: bool = False  # True: show top_two rather than a single answer
    probabilities: dict[str, float] = field(default_factory=dict)
    top_two: list[tuple[str, float]] = field(default_factory=list)
    reason_code: str | None = None  # the refusal as a code (inference.reading), handlers/texts.py words it
    measurements: dict | None = None  # inference.measure.Measurements.to_dict() of the reading, if read
    findings: list[dict] = field(default_factory=list)  # inference.measure.findings(), as dicts
    reasons: list[dict] = field(default_factory=list)  # inference.explain.reasons() of the label, as dicts
    marked_leads: list[str] = field(default_factory=list)  # inference.explain.marked_leads(): outlined on the heat map

    def to_dict(self) -> dict:
        d = asdict(self)
        d["top_two"] = [list(t) for t in self.top_two]
        return d


def refused(reason: str, code: str | None = None) -> Result:
    return Result(is_ecg=False, reason=reason, reason_code=code)


class Classifier:
    """The ResNet50 backbone and the lead head (`inference.lead_head`), loaded once. Page answers come from
    the lead head over the 16 crops' pooled features; the heat map is the head's exact class-activation
    map. Safe to call from several threads."""

    def __init__(self, model_path: str | Path = MODEL_FILE):
        from inference.model_def import load_fp16

        model_path = Path(model_path)
        if not model_path.exists():
            raise FileNotFoundError(f"model file not found: {model_path} (train one with `ecg-bot train --install`)")
        if not head_path(model_path).exists():
            raise FileNotFoundError(f"lead head not found: {head_path(model_path)} "
                                    f"(fit one with `python -m training.lead_head --model {model_path}`)")
        self.model, self.meta = load_fp16(model_path)
        self.head = LeadHead.load(head_path(model_path))
        self.model_path = model_path
        self._lock = threading.Lock()
        self._maps_fn = None
        self._crop_fn = None
        # build and warm the graph
        self.conv_maps(np.zeros((preprocess.N_CROPS,) + preprocess.CROP_SIZE + (1,), np.float32))

    # -- model calls
    def conv_maps(self, crops: np.ndarray) -> np.ndarray:
        """The backbone's last convolutional maps of each crop, (N, h, w, 2048), in inference mode."""
        import tensorflow as tf

        with self._lock:
            if self._maps_fn is None:
                m = self.model
                to_pixels, to_rgb, backbone = m.get_layer("to_pixels"), m.get_layer("to_rgb"), m.get_layer("resnet50")

                def maps(x):
                    h = to_pixels(x)
                    return backbone(to_rgb([h, h, h]), training=False)

                self._maps_fn = tf.function(maps, reduce_retracing=True)
            return np.asarray(self._maps_fn(tf.convert_to_tensor(crops, tf.float32)))

    def predict_crops(self, crops: np.ndarray) -> np.ndarray:
        """Per-crop probabilities of the training head (N, 4): for comparisons and the benchmark's bare
        forward pass; page answers use the lead head."""
        import tensorflow as tf

        with self._lock:
            if self._crop_fn is None:
                self._crop_fn = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True)
            return np.asarray(self._crop_fn(tf.convert_to_tensor(crops, tf.float32)))

    def probabilities_and_cams(self, crops: np.ndarray, cam_class: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One backbone pass -> (page probabilities (4,), CAMs (16, h, w) scaled to [0, 1] of `cam_class`,
        by default the top class)."""
        maps = self.conv_maps(crops)
        probs = self.head.probabilities(maps.mean(axis=(1, 2)))
        cams = self.head.cams(maps, int(np.argmax(probs)) if cam_class is None else cam_class)
        return probs, cams / (cams.max() + 1e-9)

    def page_probabilities(self, crops: np.ndarray) -> np.ndarray:
        return self.head.probabilities(self.conv_maps(crops).mean(axis=(1, 2)))

    # -- public API
    def classify_prepared(self, prep: preprocess.Prepared, check: bool = True) -> Result:
        if check and (refusal := refusal_for(prep)) is not None:
            return refusal
        return result_from_probs(self.page_probabilities(prep.crops))

    def classify(self, image_bytes: bytes, check: bool = True) -> Result:
        try:
            prep = preprocess.prepare(image_bytes)
        except preprocess.NotAnImage:
            return refused("the file is not a readable image", "not_image")
        return self.classify_prepared(prep, check=check)


def refusal_for(prep: preprocess.Prepared) -> Result | None:
    """A refusal when the page is not a 12-lead ECG printout (the rule-based check), else None."""
    area = prep.area if prep.area is not None else preprocess.trace_area(prep.page, prep.box)
    ok = ecg_check.check(prep.page, area)
    return None if ok.is_ecg else refused(ok.reason, "not_ecg")


def result_from_probs(probs: np.ndarray) -> Result:
    order = np.argsort(probs)[::-1]
    top, second = int(order[0]), int(order[1])
    conf = float(probs[top])
    label = LABELS[top]
    return Result(
        is_ecg=True,
        label=label,
        display_name=DISPLAY_NAMES[label],
        confidence=conf,
        uncertain=bool(conf < UNCERTAIN_BELOW or conf - float(probs[second]) < UNCERTAIN_MARGIN),
        probabilities={k: float(v) for k, v in zip(LABELS, probs)},
        top_two=[(LABELS[top], conf), (LABELS[second], float(probs[second]))],
    )


_instance: Classifier | None = None
_instance_lock = threading.Lock()


def get_classifier() -> Classifier:
    """The process-wide classifier, loaded on first use (double-checked under a lock)."""
    global _instance
    if _instance is None:
        with _instance_lock:
            if _instance is None:
                _instance = Classifier()
    return _instance

