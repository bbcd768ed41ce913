"""The page decision: a linear classifier over the ResNet50 features of the 16 lead crops, in lead order.

The ResNet50 is trained on single lead crops with the original project's head (BN, Dense 128, Dropout,
softmax), and the first version of this project averaged those 16 crop probabilities into a page
answer. That throws away *which lead* looks abnormal — and an infarct shows in particular leads. This
head keeps the lead order: the pooled 2048 features of every crop, concatenated (16 x 2048), go into a
multinomial logistic regression fitted on the training pages (`training/lead_head.py`). It is stored
beside the backbone as a small `.npz` (standardisation already folded into the weights).

Because the head is linear in the globally pooled features, its class-activation map is exact and needs
no gradient: CAM_k = ReLU(sum_ch W[c, k, ch] * A_k[:, :, ch]) for crop k's last convolutional maps A_k
(Zhou et al. 2016; for a linear head on global average pooling it equals Grad-CAM up to scale).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


def head_path(model_path: str | Path) -> Path:
    """`ecg_resnet50_fp16.h5` -> `ecg_resnet50_fp16_lead_head.npz` in the same folder."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + "_lead_head.npz")


@dataclass
class LeadHead:
    weights: np.ndarray  # (classes, leads, features), float32
    bias: np.ndarray  # (classes,)
    meta: dict = field(default_factory=dict)

    def logits(self, pooled: np.ndarray) -> np.ndarray:
        """pooled: (leads, features) for one page, or (pages, leads, features) -> (classes,) / (pages, classes)."""
        return np.einsum("...kf,ckf->...c", pooled.astype(np.float32), self.weights) + self.bias

    def probabilities(self, pooled: np.ndarray) -> np.ndarray:
        z = self.logits(pooled)
        z = z - z.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)

    def cams(self, maps: np.ndarray, class_index: int) -> np.ndarray:
        """maps: (leads, h, w, features) last conv maps of one page -> (leads, h, w), ReLU, not normalised."""
        return np.maximum(np.einsum("khwf,kf->khw", maps.astype(np.float32), self.weights[class_index]), 0.0)

    def save(self, path: str | Path) -> None:
        np.savez_compressed(Path(path), weights=self.weights.astype(np.float32), bias=self.bias.astype(np.float32),
                            meta=np.array(json.dumps(self.meta)))

    @classmethod
    def load(cls, path: str | Path) -> "LeadHead":
        with np.load(Path(path), allow_pickle=False) as f:
            return cls(f["weights"].astype(np.float32), f["bias"].astype(np.float32), json.loads(str(f["meta"])))
