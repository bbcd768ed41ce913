"""Find the images, de-duplicate them by content, and make the stratified split."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.labels import LABELS, label_for_folder

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = (REPO_ROOT / ".." / "shared" / "data" / "ecg-images").resolve()
SPLIT_FILE = Path(__file__).resolve().parent / "split.json"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
SEED = 1337


@dataclass(frozen=True)
class Item:
    path: Path
    label: str
    sha256: str

    @property
    def y(self) -> int:
        return LABELS.index(self.label)

    @property
    def name(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def discover(data_dir: str | Path = DEFAULT_DATA) -> list[Item]:
    """All distinct images under data_dir/<class folder>/, sorted by hash.

    Class folders may use the short names (MI, HB, PMI, Normal) or the original Mendeley names.
    Byte-identical copies are dropped (the original set is 47 % copies); an image found under two
    different classes is dropped too, as its label is ambiguous.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"data directory not found: {data_dir}")
    by_hash: dict[str, Item] = {}
    conflicts: set[str] = set()
    for folder in sorted(p for p in data_dir.rglob("*") if p.is_dir()):
        label = label_for_folder(folder.name)
        if label is None:
            continue
        for f in sorted(folder.iterdir()):
            if f.suffix.lower() not in IMAGE_SUFFIXES or not f.is_file():
                continue
            h = sha256_file(f)
            if h in by_hash and by_hash[h].label != label:
                conflicts.add(h)
            by_hash.setdefault(h, Item(f, label, h))
    items = [it for h, it in by_hash.items() if h not in conflicts]
    if not items:
        raise FileNotFoundError(f"no class folders with images under {data_dir}")
    return sorted(items, key=lambda it: it.sha256)


def data_hash(items: list[Item]) -> str:
    """One hash for the whole dataset: sha256 over the sorted (label, sha256) pairs."""
    h = hashlib.sha256()
    for it in sorted(items, key=lambda i: i.sha256):
        h.update(f"{it.label}:{it.sha256}\n".encode())
    return h.hexdigest()


def stratified_split(items: list[Item], fractions=(0.7, 0.1, 0.2), seed: int = SEED) -> dict[str, list[Item]]:
    """Per-class shuffle with a fixed seed, then cut each class at the given fractions."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[Item]] = {"train": [], "val": [], "test": []}
    for label in LABELS:
        cls = sorted((it for it in items if it.label == label), key=lambda it: it.sha256)
        idx = rng.permutation(len(cls))
        n_test = int(round(fractions[2] * len(cls)))
        n_val = int(round(fractions[1] * len(cls)))
        test, val, train = idx[:n_test], idx[n_test:n_test + n_val], idx[n_test + n_val:]
        parts["test"] += [cls[i] for i in test]
        parts["val"] += [cls[i] for i in val]
        parts["train"] += [cls[i] for i in train]
    return parts


def write_split(parts: dict[str, list[Item]], path: Path = SPLIT_FILE, seed: int = SEED) -> None:
    doc = {
        "seed": seed,
        "fractions": [0.7, 0.1, 0.2],
        "data_hash": data_hash([it for p in parts.values() for it in p]),
        **{k: [{"name": it.name, "label": it.label, "sha256": it.sha256} for it in v] for k, v in parts.items()},
    }
    path.write_text(json.dumps(doc, indent=1) + "\n")


def load_split(items: list[Item], path: Path = SPLIT_FILE) -> dict[str, list[Item]]:
    """Apply a committed split file to the discovered items (matched by sha256).

    Images not in the file (e.g. a user's bigger download) go to the training part.
    """
    doc = json.loads(Path(path).read_text())
    by_hash = {it.sha256: it for it in items}
    parts: dict[str, list[Item]] = {"train": [], "val": [], "test": []}
    seen = set()
    for k in parts:
        for e in doc[k]:
            it = by_hash.get(e["sha256"])
            if it is not None:
                parts[k].append(it)
                seen.add(it.sha256)
    parts["train"] += [it for it in items if it.sha256 not in seen]
    return parts


def get_split(items: list[Item], path: Path = SPLIT_FILE, seed: int = SEED) -> dict[str, list[Item]]:
    """The committed split when it exists and covers these images, else a fresh one."""
    if Path(path).exists():
        parts = load_split(items, path)
        if parts["test"] and parts["val"]:
            return parts
    return stratified_split(items, seed=seed)


def counts(items: list[Item]) -> dict[str, int]:
    return {label: sum(it.label == label for it in items) for label in LABELS}


def limit_per_class(items: list[data.Item], n: int) -> list[data.Item]:
    """At most about n pages, spread over the classes (smoke tests)."""
    k = max(1, -(-n // len(LABELS)))
    return [it for lab in LABELS for it in [i for i in items if i.label == lab][:k]]
