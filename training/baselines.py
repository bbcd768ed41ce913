"""The two baselines the ResNet50 is measured against, on the same split (and in k-fold CV).

* custom CNN of the original project: whole page at 64 x 64, conv 16-32-32, Dense 32, softmax;
* HOG features of the binarised trace area (grid removed: our ink map) + logistic regression;
* the same HOG + logistic regression per lead crop (the ResNet50's inputs), page = mean of the 16
  crop probabilities: shows what the lead-crop representation gives a linear model.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from inference import preprocess as P
from inference.labels import LABELS


def page_64(path: str) -> np.ndarray:
    """The original project's input: the whole page, squashed to 64 x 64 RGB in [0, 1]."""
    img = Image.fromarray(P.load_page(path)).resize((64, 64), Image.BILINEAR)
    return np.asarray(img, np.float32) / 255.0


def hog_features(path: str) -> np.ndarray:
    from skimage.feature import hog

    page = P.load_page(path)
    box, _ = P.find_grid_box(page)
    area = P.trace_area(page, box)  # ink map, 256 x 446
    small = np.asarray(Image.fromarray((area * 255).astype(np.uint8)).resize((224, 128), Image.BILINEAR))
    return hog(small / 255.0, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2), feature_vector=True)


def crop_hog_features(path: str) -> np.ndarray:
    """(16, d) HOG of each lead crop, exactly the crops the ResNet50 sees."""
    from skimage.feature import hog

    crops = P.prepare(P.load_page(path)).crops
    return np.stack([hog(c[..., 0], orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2)) for c in crops])


def fit_predict_crop_hog(x_tr, y_tr, x_te, seed: int = 0) -> np.ndarray:
    """x: (pages, 16, d). Train on every crop with its page's label; average crop probabilities per page."""
    n, k, d = x_tr.shape
    p = fit_predict_hog(x_tr.reshape(n * k, d), np.repeat(y_tr, k), x_te.reshape(-1, d), seed, C=0.001)
    return p.reshape(len(x_te), k, -1).mean(axis=1)


def fit_predict_cnn(x_tr, y_tr, x_te, seed: int = 0, epochs: int = 40) -> np.ndarray:
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((64, 64, 3)),
        layers.Conv2D(16, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Flatten(), layers.Dense(32, activation="relu"), layers.Dense(len(LABELS), activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    n_c = np.bincount(y_tr, minlength=len(LABELS))
    cw = {i: len(y_tr) / (len(LABELS) * max(1, c)) for i, c in enumerate(n_c)}
    model.fit(x_tr, y_tr, epochs=epochs, batch_size=32, verbose=0, class_weight=cw)
    return model.predict(x_te, verbose=0)


def fit_predict_hog(x_tr, y_tr, x_te, seed: int = 0, C: float = 0.01) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000, class_weight="balanced",
                                                             random_state=seed))
    clf.fit(x_tr, y_tr)
    p = np.zeros((len(x_te), len(LABELS)))
    p[:, clf.classes_] = clf.predict_proba(x_te)
    return p


def kfold(x, y, fit_predict, k: int = 5, seed: int = 0) -> list[dict]:
    """Stratified k-fold: accuracy, macro-F1 and per-class recall of each fold."""
    from sklearn.metrics import f1_score, recall_score
    from sklearn.model_selection import StratifiedKFold

    out = []
    for tr, te in StratifiedKFold(k, shuffle=True, random_state=seed).split(x, y):
        pred = fit_predict(x[tr], y[tr], x[te]).argmax(1)
        out.append({
            "accuracy": float((pred == y[te]).mean()),
            "macro_f1": float(f1_score(y[te], pred, average="macro", labels=list(range(len(LABELS))), zero_division=0)),
            "recall": recall_score(y[te], pred, average=None, labels=list(range(len(LABELS))), zero_division=0).tolist(),
        })
    return out
