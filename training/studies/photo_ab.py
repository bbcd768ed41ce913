"""Photo preprocessing A/B on validation pages: version 1 (pink grid box, else the fixed layout) against
version 2 (`prepare`: level the page and place the grid from the traces when the pink is not seen).

For each version: crops of the training pages and their 2 photo-like copies (as training makes them),
lead head fitted on the training pages only (shipped backbone), scored on 3 photo-like copies of every
validation page and on the clean validation pages.

    python -m training.studies.photo_ab        # about 15 minutes on 2 cores
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score
from tqdm.auto import tqdm

from inference import preprocess as P
from inference.model_def import load_fp16
from training import augment, data, lead_head
from training.crops import RUNS_DIR, build_crops


def crops_v1(page: np.ndarray) -> np.ndarray:
    box, _ = P.find_grid_box(page, use_ink=False)
    return P.crops_from_area(P.trace_area(page, box))


def _u8(crops: np.ndarray) -> np.ndarray:
    return (crops * 255).round().astype(np.uint8)


def _train_v1(path: str) -> np.ndarray:
    """The 3 variants of a training page as `training.train.page_crops` makes them, with version 1 crops."""
    page = P.load_page(path)
    out = [_u8(crops_v1(page))]
    for variant in (1, 2):
        rng = np.random.default_rng([data.SEED, variant, int.from_bytes(Path(path).name.encode()[:8], "little")])
        out.append(_u8(crops_v1(augment.photo_distort(page, rng))))
    return np.stack(out)


def _val_copies(path: str) -> tuple[np.ndarray, np.ndarray]:
    page = P.load_page(path)
    v1, v2 = [], []
    for k in range(3):
        rng = np.random.default_rng([77, k, int.from_bytes(Path(path).name.encode()[:8], "little")])
        copy = augment.photo_distort(page, rng)
        v1.append(_u8(crops_v1(copy)))
        v2.append(_u8(P.prepare(copy).crops))
    return np.stack(v1), np.stack(v2)


def main() -> None:
    parts = data.get_split(data.discover())
    y_tr = np.array([it.y for it in parts["train"]])
    y_va = np.array([it.y for it in parts["val"]])
    with ProcessPoolExecutor(2) as ex:
        tr_v1 = np.stack(list(tqdm(ex.map(_train_v1, [str(it.path) for it in parts["train"]], chunksize=4),
                                   total=len(y_tr), desc="train v1")))
        val = list(tqdm(ex.map(_val_copies, [str(it.path) for it in parts["val"]]), total=len(y_va), desc="val"))
    tr_v2 = build_crops(parts["train"], 2, data.SEED, 2, "train v2", RUNS_DIR / "cache")
    va_clean = build_crops(parts["val"], 0, data.SEED, 2, "val", RUNS_DIR / "cache")[:, 0]
    va_v1 = np.concatenate([v[0] for v in val])  # page-major: 3 copies per page
    va_v2 = np.concatenate([v[1] for v in val])
    y_copies = np.repeat(y_va, 3)
    model, _ = load_fp16()
    f_clean = lead_head.pooled_features(model, va_clean)
    for name, tr, va in (("version 1", tr_v1, va_v1), ("version 2", tr_v2, va_v2)):
        f_tr = lead_head.pooled_features(model, tr)
        head = lead_head.fit(f_tr.reshape((-1,) + f_tr.shape[2:]), np.repeat(y_tr, 3))
        copies = head.probabilities(lead_head.pooled_features(model, va)).argmax(1)
        clean = head.probabilities(f_clean).argmax(1)
        print(f"{name}: validation photo-like copies accuracy {accuracy_score(y_copies, copies):.3f} "
              f"macro-F1 {f1_score(y_copies, copies, average='macro'):.3f}; clean validation accuracy "
              f"{accuracy_score(y_va, clean):.3f} macro-F1 {f1_score(y_va, clean, average='macro'):.3f}", flush=True)


if __name__ == "__main__":
    main()
