"""The heart rate the ECG machine printed in each page's footer, read once offline for the evaluation.

`python -m training.printed_hr` OCRs the footer line ("0.67~25Hz AC50 25mm/s 10mm/mV 4*2.5s+1r ♥81 ...")
of every page with Tesseract (Debian: `apt-get install tesseract-ocr`) and writes
`training/printed_hr.json` (file name -> bpm). Only the digitizer evaluation reads that file, to check
the heart rate measured from the traces; no model ever sees it (the footer is outside the grid, which
is all the models get).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

OUT = Path(__file__).with_name("printed_hr.json")
FOOTER = (30, 1098, 760, 1132)  # x0, y0, x1, y1 of the footer's left part on a 1600 px wide page
HR_AFTER = re.compile(r"s\+[1lI]r\s+\S?(\d{2,4})\b")  # the number after "4*2.5s+1r" and the heart


def read_footer_hr(path: Path) -> int | None:
    img = Image.open(path).convert("L")
    if img.width != 1600:
        img = img.resize((1600, round(img.height * 1600 / img.width)))
    crop = img.crop(FOOTER).resize(((FOOTER[2] - FOOTER[0]) * 3, (FOOTER[3] - FOOTER[1]) * 3), Image.LANCZOS)
    with tempfile.NamedTemporaryFile(suffix=".png") as tmp:
        crop.save(tmp.name)
        out = subprocess.run(["tesseract", tmp.name, "-", "--psm", "7"], capture_output=True, text=True).stdout
    m = HR_AFTER.search(out.replace(" ", " "))
    if m is None:
        return None
    digits = m.group(1)
    if int(digits) > 250 and digits[0] == "4":  # the heart symbol read as a 4: "♥92" -> "492"
        digits = digits[1:]
    hr = int(digits)
    return hr if 20 <= hr <= 250 else None


def main() -> int:
    if shutil.which("tesseract") is None:
        print("tesseract not found: apt-get install tesseract-ocr")
        return 2
    from training.data import DEFAULT_DATA as DATA_DIR

    result = {}
    for p in sorted(Path(DATA_DIR).glob("*/*.jpg")):
        result[f"{p.parent.name}/{p.name}"] = read_footer_hr(p)
    OUT.write_text(json.dumps(result, indent=0, sort_keys=True) + "\n")
    read = sum(v is not None for v in result.values())
    print(f"{read} of {len(result)} printed heart rates read -> {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
