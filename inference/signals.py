"""The digitized ECG: what the digitizer reads off the paper and the measurements read from.

Times are on the printout's 10 s axis: lead I (column 1) covers 0-2.5 s, aVR 2.5-5 s, V1 5-7.5 s,
V4 7.5-10 s, and so on down the columns; the rhythm strip covers all 10 s. Signals are in millivolts
at `layout.FS`; a sample that could not be traced is NaN, never invented.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from inference import layout as L


@dataclass(frozen=True)
class LeadSignal:
    name: str
    start_s: float  # where the lead's window starts on the 10 s axis
    signal: np.ndarray  # float32 mV at L.FS; NaN where not traced
    traced_fraction: float  # share of the window's samples that were traced
    confidence: float  # 0..1: how sure the tracer was of the stroke it followed
    ok: bool  # False: the lead could not be traced (too little of it, or no stroke at all)

    @property
    def quality(self) -> float:
        return float(self.traced_fraction * self.confidence)

    @property
    def duration_s(self) -> float:
        return len(self.signal) / L.FS

    def time(self) -> np.ndarray:
        """Sample times on the 10 s axis."""
        return self.start_s + np.arange(len(self.signal)) / L.FS


@dataclass(frozen=True)
class Digitized:
    leads: dict[str, LeadSignal]  # the 12 leads of the 3 x 4 block, 2.5 s each
    rhythm: LeadSignal  # the 10 s strip
    rhythm_lead: str | None  # its printed label ("II", "III", ...), None when it could not be read
    fs: int = L.FS
    px_per_mv: float = L.PX_PER_MV  # the vertical scale used (from the calibration pulses or the grid)
    px_per_s: float = L.PX_PER_S  # the horizontal scale used
    scale_source: str = "layout"  # "calibration", "grid" or "layout": where px_per_mv came from
    notes: tuple[str, ...] = field(default_factory=tuple)

    def row(self, r: int) -> np.ndarray:
        """Row r of the printout as one 10 s signal (rows 0-2: its four leads side by side; 3: the strip)."""
        if r == L.RHYTHM_ROW:
            return self.rhythm.signal
        n = int(round(L.DURATION_S * self.fs))
        out = np.full(n, np.nan, np.float32)
        for name in L.ROWS[r]:
            lead = self.leads[name]
            i0 = int(round(lead.start_s * self.fs))
            seg = lead.signal[: max(0, n - i0)]
            out[i0:i0 + len(seg)] = seg
        return out

    def rows(self) -> np.ndarray:
        """(4, 10 s * fs): the four printed rows in sync (the machine prints them simultaneously)."""
        return np.stack([self.row(r) for r in range(4)])

    @property
    def traced_leads(self) -> list[str]:
        return [n for n in L.LEADS if self.leads[n].ok]
