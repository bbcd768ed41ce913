"""Command-line entry points: `ecg-bot train` / `python -m training` and `ecg-bot evaluate`."""

from __future__ import annotations

import argparse
import sys


def train_main(argv: list[str] | None = None) -> int:
    from training import data
    from training.train import Config

    d = Config()
    ap = argparse.ArgumentParser(prog="ecg-bot train", description="Train the lead-crop ResNet50 ECG classifier.")
    ap.add_argument("--data", default=str(data.DEFAULT_DATA), help="folder with one sub-folder per class")
    ap.add_argument("--out", default=d.out_dir, help="run folder for checkpoints and history (default: runs/train)")
    ap.add_argument("--epochs", type=int, default=d.epochs)
    ap.add_argument("--crops-per-page", type=int, default=d.crops_per_page)
    ap.add_argument("--batch-size", type=int, default=d.batch_size)
    ap.add_argument("--lr", type=float, default=d.lr)
    ap.add_argument("--variants", type=int, default=d.variants, help="photo-distorted copies per training page")
    ap.add_argument("--bn-momentum", type=float, default=d.bn_momentum)
    ap.add_argument("--patience", type=int, default=d.patience)
    ap.add_argument("--seed", type=int, default=d.seed)
    ap.add_argument("--weights", default=None, help="local ResNet50 ImageNet weights file (no download)")
    ap.add_argument("--max-minutes", type=float, default=d.max_minutes,
                    help="stop after the epoch that passes this wall-clock budget (0: no limit)")
    ap.add_argument("--limit-pages", type=int, default=None, help="use only N pages per split (smoke tests)")
    ap.add_argument("--workers", type=int, default=d.workers)
    ap.add_argument("--progress", action="store_true", help="a progress bar per epoch (default when on a terminal)")
    ap.add_argument("--install", action="store_true", help="copy the final weights and lead head into inference/model/")
    a = ap.parse_args(argv)
    try:
        from training.train import train

        cfg = Config(data_dir=a.data, out_dir=a.out, epochs=a.epochs, crops_per_page=a.crops_per_page,
                     batch_size=a.batch_size, lr=a.lr, variants=a.variants, patience=a.patience, seed=a.seed,
                     weights=a.weights, bn_momentum=a.bn_momentum, max_minutes=a.max_minutes or None,
                     limit_pages=a.limit_pages, workers=a.workers,
                     verbose=1 if (a.progress or sys.stdout.isatty()) else 2)
        train(cfg)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if a.install:
        import shutil
        from pathlib import Path

        from inference.model_def import MODEL_FILE

        from inference.lead_head import head_path

        shutil.copy(Path(a.out) / "final.h5", MODEL_FILE)
        shutil.copy(head_path(Path(a.out) / "final.h5"), head_path(MODEL_FILE))
        shutil.copy(Path(a.out) / "history.json", MODEL_FILE.with_name("history.json"))
        print(f"installed {MODEL_FILE}")
    return 0


def evaluate_main(argv: list[str] | None = None) -> int:
    from training.evaluate import main

    return main(argv)
