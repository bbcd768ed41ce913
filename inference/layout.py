"""The print layout of the ECG pages this product reads, in pixels of the canonical page.

Every page of the data set comes from one ECG machine (see `../shared/data/ecg-images/README.md`):
25 mm/s, 10 mm/mV, the 3 x 4 leads of 2.5 s each plus a 10 s rhythm strip, a calibration pulse at the
start of each row, a thin red rectangle around the dotted pink grid, a header (patient data) above
it and a footer (filters, printed heart rate, date) below it. The sheet finder rectifies a photo to
this canonical page; everything after it (grid, digitizer, classifier) works in these coordinates.

The numbers were measured on the data set's pages (1600 x 1137 px): the lead separators at x = 465.5,
821.5 and 1176.5 (355.5 px = 62.5 mm apart), the traces from x = 110 to 1532 (10 s), the feet of the
calibration pulses at y = 334, 551, 770 and 987, the pulses 56-57 px (10 mm) tall.
"""

from __future__ import annotations

FS = 500  # Hz: every digitized signal is sampled at this rate
PAPER_SPEED_MM_S = 25.0
GAIN_MM_MV = 10.0

PAGE_W, PAGE_H = 1600, 1137  # canonical page (the data set's 1600 px wide pages)
PX_PER_MM = 355.5 / 62.5  # 5.688 px per mm on the canonical page (both directions)
PX_PER_S = PX_PER_MM * PAPER_SPEED_MM_S  # 142.2 px per second
PX_PER_MV = PX_PER_MM * GAIN_MM_MV  # 56.9 px per millivolt

GRID_BOX = (50, 205, 1573, 1097)  # the thin red rectangle around the grid: x0, y0, x1, y1
GRID_ASPECT = (GRID_BOX[2] - GRID_BOX[0]) / (GRID_BOX[3] - GRID_BOX[1])  # 1.707
PAGE_ASPECT = PAGE_W / PAGE_H  # 1.407

T0_X = 110.0  # x of t = 0 s (the start of every row's trace)
DURATION_S = 10.0
SEGMENT_S = 2.5  # one lead of the 3 x 4 block
BASELINE_Y = (334.0, 551.0, 770.0, 987.0)  # zero-millivolt line of the four rows (feet of the pulses)
ROW_PITCH = 217.7  # px between neighbouring rows' baselines
CAL_X = (69.0, 94.0)  # calibration pulse, feet included
SEPARATOR_X = (465.5, 821.5, 1176.5)  # thin vertical lead separators between the columns

# The 3 x 4 block: rows of four leads, each lead in its own 2.5 s window of the 10 s time axis.
ROWS = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")  # the usual order
RHYTHM_ROW = 3
RHYTHM_CANDIDATES = ("II", "III", "I", "V1", "V5", "aVF")  # what the strip is seen to be on these pages

TERRITORIES = {
    "inferior": ("II", "III", "aVF"),
    "anterior": ("V1", "V2", "V3", "V4"),
    "lateral": ("I", "aVL", "V5", "V6"),
}


def lead_window(lead: str) -> tuple[int, int, float]:
    """(row, column, start second) of a lead in the 3 x 4 block."""
    for r, names in enumerate(ROWS):
        if lead in names:
            c = names.index(lead)
            return r, c, c * SEGMENT_S
    raise KeyError(lead)


def x_of_time(t_s: float) -> float:
    """Canonical-page x of a time on the 10 s axis."""
    return T0_X + t_s * PX_PER_S
