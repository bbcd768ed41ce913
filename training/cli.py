"""Command-line entry points: `ecg-bot train` / `python -m training` and `ecg-bot evaluate`.

`ecg-bot train` reproduces what the product ships, in order, within one time budget:

1. `measure` — the measurement model: every page read once (and a rendered phone photo of each; cached),
   cross-validated (5 folds x 3 repeats, the MI decision weight in nested folds), fitted on all of
   train+val and tested once (`training.measure_model`; about 35 minutes on this CPU with the readings to
   make, 20 with them cached);
2. `signal` — the 1-D ResNet-50's pre-training on synthetic pathology, a quarter of it drawn on paper and
   read back (`training.resnet1d`; about 12 minutes);
3. `stack` — the diagnosis: the measurement model and the 1-D ResNet-50 out of fold, the combiner fitted on
   their out-of-fold outputs, the final 1-D ResNet-50, the test split once (`training.stacking`; 13.8
   minutes measured, the readings re-made);
4. `image` — the heat map's lead-crop ResNet50 and its lead head (`training.train`), given what is left
   of the budget (it stops after the epoch that passes it).

With `--install` the models go to `inference/model/` and the reports to `reports/`; without it, to the run
folder.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

STAGES = ("measure", "signal", "stack", "image")  # `all`, in order
IMAGE_MIN_MINUTES = 15.0  # below this much budget left the image model is not started
IMAGE_OVERHEAD_MINUTES = 8.0  # crop cache and lead head, after the epochs the budget allows


def run_measure(out: Path, folds: int, repeats: int, workers: int) -> int:
    from training import measure_model

    return measure_model.main(["--photos", "--folds", str(folds), "--repeats", str(repeats),
                               "--workers", str(workers), "--out", str(out)])


def run_image(cfg) -> None:
    from training.train import train

    train(cfg)


def run_signal(out: Path) -> int:
    from training import resnet1d

    return resnet1d.main(["pretrain", "--out", str(out)])


def run_stack(weights: Path, out_dir: Path, workers: int) -> int:
    from training import stacking

    return stacking.main(["--weights", str(weights), "--out-dir", str(out_dir), "--workers", str(workers)])


def install_image(run_dir: Path) -> None:
    import shutil

    from inference.lead_head import head_path
    from inference.model_def import MODEL_FILE

    shutil.copy(run_dir / "final.h5", MODEL_FILE)
    shutil.copy(head_path(run_dir / "final.h5"), head_path(MODEL_FILE))
    shutil.copy(run_dir / "history.json", MODEL_FILE.with_name("history.json"))
    print(f"installed {MODEL_FILE}")


def train_main(argv: list[str] | None = None) -> int:
    from training import data
    from training.train import Config

    d = Config()
    ap = argparse.ArgumentParser(prog="ecg-bot train", description="Train what the product ships: the diagnosis "
                                 "(measurement model, 1-D ResNet-50, their combiner), then the heat map's ResNet50, "
                                 "within a time budget.")
    ap.add_argument("--stage", choices=("all",) + STAGES, default="all",
                    help="all = measure, signal, stack, image in order (default); or one of them")
    ap.add_argument("--budget-minutes", type=float, default=120.0, help="wall-clock budget of the whole run")
    ap.add_argument("--data", default=str(data.DEFAULT_DATA), help="folder with one sub-folder per class")
    ap.add_argument("--out", default=d.out_dir, help="run folder for checkpoints, models and reports (default: runs/train)")
    ap.add_argument("--install", action="store_true", help="write the models into inference/model/ and the reports into reports/")
    g = ap.add_argument_group("measure stage")
    g.add_argument("--folds", type=int, default=5)
    g.add_argument("--repeats", type=int, default=3)
    g = ap.add_argument_group("image stage")
    g.add_argument("--epochs", type=int, default=d.epochs)
    g.add_argument("--crops-per-page", type=int, default=d.crops_per_page)
    g.add_argument("--batch-size", type=int, default=d.batch_size)
    g.add_argument("--lr", type=float, default=d.lr)
    g.add_argument("--variants", type=int, default=d.variants, help="photo-distorted copies per training page")
    g.add_argument("--bn-momentum", type=float, default=d.bn_momentum)
    g.add_argument("--patience", type=int, default=d.patience)
    g.add_argument("--seed", type=int, default=d.seed)
    g.add_argument("--weights", default=None, help="local ResNet50 ImageNet weights file (no download)")
    g.add_argument("--max-minutes", type=float, default=None,
                   help="the image stage's own budget (default: what is left of --budget-minutes)")
    g.add_argument("--limit-pages", type=int, default=None, help="use only N pages per split (smoke tests)")
    g.add_argument("--workers", type=int, default=d.workers)
    g.add_argument("--progress", action="store_true", help="a progress bar per epoch (default when on a terminal)")
    a = ap.parse_args(argv)
    t0 = time.time()
    run_dir = Path(a.out)
    run_dir.mkdir(parents=True, exist_ok=True)

    def minutes_left() -> float:
        return a.budget_minutes - (time.time() - t0) / 60.0

    stages = STAGES if a.stage == "all" else (a.stage,)
    n = len(stages)
    from training.resnet1d import DEFAULT_WEIGHTS

    weights = DEFAULT_WEIGHTS if a.install else run_dir / "resnet1d_synth.weights.h5"
    try:
        if "measure" in stages:
            from inference.measure_model import MODEL_FILE as MEASURE_FILE

            print(f"[{stages.index('measure') + 1}/{n}] measure: the measurement model ({a.budget_minutes:.0f} min budget)", flush=True)
            rc = run_measure(MEASURE_FILE if a.install else run_dir / "measure_model.npz", a.folds, a.repeats, a.workers)
            if rc:
                return rc
        if "signal" in stages:
            print(f"[{stages.index('signal') + 1}/{n}] signal: the 1-D ResNet-50's synthetic pre-training", flush=True)
            rc = run_signal(weights)
            if rc:
                return rc
        if "stack" in stages:
            from inference.model_def import MODEL_DIR

            print(f"[{stages.index('stack') + 1}/{n}] stack: the diagnosis (measurement model + 1-D ResNet-50)", flush=True)
            rc = run_stack(weights, MODEL_DIR if a.install else run_dir, a.workers)
            if rc:
                return rc
        if "image" in stages:
            budget = a.max_minutes if a.max_minutes is not None else minutes_left() - IMAGE_OVERHEAD_MINUTES
            if a.max_minutes is None and budget < IMAGE_MIN_MINUTES:
                print(f"image: skipped, {minutes_left():.0f} min of the budget left (needs "
                      f"{IMAGE_MIN_MINUTES + IMAGE_OVERHEAD_MINUTES:.0f}); run `ecg-bot train --stage image`", flush=True)
                return 0
            print(f"[{n}/{n}] image: the heat map's ResNet50 ({budget:.0f} min for its epochs)", flush=True)
            cfg = Config(data_dir=a.data, out_dir=str(run_dir), epochs=a.epochs, crops_per_page=a.crops_per_page,
                         batch_size=a.batch_size, lr=a.lr, variants=a.variants, patience=a.patience, seed=a.seed,
                         weights=a.weights, bn_momentum=a.bn_momentum, max_minutes=budget or None,
                         limit_pages=a.limit_pages, workers=a.workers,
                         verbose=1 if (a.progress or sys.stdout.isatty()) else 2)
            run_image(cfg)
            if a.install:
                install_image(run_dir)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"done in {(time.time() - t0) / 60:.1f} min", flush=True)
    return 0


def evaluate_main(argv: list[str] | None = None) -> int:
    from training.evaluate import main

    return main(argv)
