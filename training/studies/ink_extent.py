"""Where the traces start and end inside the pink grid rectangle (INK_LEFT / INK_RIGHT in
inference/preprocess.py), and how well `box_from_ink` places the rectangle on clean pages.

    python -m training.studies.ink_extent      # every 6th training page, as in the model card
"""

from __future__ import annotations

import numpy as np

from inference import preprocess as P
from training import data


def main() -> None:
    parts = data.get_split(data.discover())
    left, right, top, bottom = [], [], [], []
    for it in parts["train"][::6]:
        page = P.load_page(str(it.path))
        (x0, y0, x1, y1), found = P.find_grid_box(page, use_ink=False)
        ink = P.box_from_ink(page)
        if not found or ink is None:
            continue
        w = ink[2] - ink[0]  # where box_from_ink saw the traces start and end, back in page pixels
        left.append((ink[0] + P.INK_LEFT * w - x0) / (x1 - x0))
        right.append((ink[0] + P.INK_RIGHT * w - x0) / (x1 - x0))
        top.append(ink[1] - y0)
        bottom.append(ink[3] - y1)
    print(f"pages {len(left)}: traces from {np.mean(left):.4f} (sd {np.std(left):.4f}) to {np.mean(right):.4f} "
          f"(sd {np.std(right):.4f}) of the grid width; ink box top {np.mean(top):+.1f} ± {np.std(top):.1f} px, "
          f"bottom {np.mean(bottom):+.1f} ± {np.std(bottom):.1f} px from the pink box")


if __name__ == "__main__":
    main()
