"""The crop classifier (Keras ResNet50 + the original project's head) and its float16 weight file.

The shipped file stores every weight as float16 in an HDF5 file (h5py, already a Keras dependency),
which halves the size of the float32 model (ResNet50 ~23.6 M parameters -> ~47 MB). Loading casts
back to float32.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from inference.labels import LABELS
from inference.preprocess import CROP_SIZE

MODEL_DIR = Path(__file__).resolve().parent / "model"
MODEL_FILE = MODEL_DIR / "ecg_resnet50_fp16.h5"


def build_model(input_size: tuple[int, int] = CROP_SIZE, weights: str | None = None, dropout: float = 0.5):
    """ResNet50 backbone on one ink-map crop -> GAP -> BatchNorm -> Dense 128 ReLU -> Dropout -> softmax.

    Input is the ink map (1 channel, 0 = paper, 1 = trace). It is turned into a dark-on-light 3-channel
    image roughly centred like Keras' ResNet50 'caffe' preprocessing, so a local ImageNet weights file
    (`weights=path`) gets inputs in the range it was trained on.
    """
    import keras
    from keras import layers

    h, w = input_size
    inp = keras.Input((h, w, 1), name="ink")
    x = layers.Rescaling(scale=-255.0, offset=255.0 - 116.0, name="to_pixels")(inp)
    x = layers.Concatenate(name="to_rgb")([x, x, x])
    backbone = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(h, w, 3))
    if weights:
        backbone.load_weights(weights, skip_mismatch=False)
    x = backbone(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.BatchNormalization(name="head_bn")(x)
    x = layers.Dense(128, activation="relu", name="head_dense")(x)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    out = layers.Dense(len(LABELS), activation="softmax", name="probs")(x)
    return keras.Model(inp, out, name="ecg_lead_resnet50")


def save_fp16(model, path: str | Path, meta: dict | None = None) -> None:
    """Write all weights (trainable and BN statistics) as float16 plus a JSON metadata attribute."""
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.attrs["meta"] = json.dumps(meta or {})
        f.attrs["n_weights"] = len(model.weights)
        for i, w in enumerate(model.weights):
            arr = np.asarray(w.numpy())
            f.create_dataset(f"w{i:04d}", data=arr.astype(np.float16), compression=None)


def read_meta(path: str | Path) -> dict:
    import h5py

    with h5py.File(path, "r") as f:
        return json.loads(f.attrs["meta"])


def load_fp16(path: str | Path = MODEL_FILE):
    """Build the architecture recorded in the file's metadata and load its float16 weights."""
    import h5py

    with h5py.File(path, "r") as f:
        meta = json.loads(f.attrs["meta"])
        size = tuple(meta.get("input_size", CROP_SIZE))
        model = build_model(size)
        n = int(f.attrs["n_weights"])
        if n != len(model.weights):
            raise ValueError(f"{path}: {n} weights in file, model has {len(model.weights)}")
        for i, w in enumerate(model.weights):
            w.assign(f[f"w{i:04d}"][()].astype(np.float32))
    return model, meta
