"""neurokit2 against inference.measure on rendered pages with known intervals (why measure.py is home-made).

    python -m training.studies.neurokit_measure --pages 10 [--photo] [--methods prominence dwt]

For each rendered page (`training.page_render.render_random_page(seed)`) the signals are taken three
ways: the true signals the page was drawn from, the page read as a scan, and (--photo) as a phone
photo. On each, `measure()` (all 12 leads and the strip) and neurokit2 on the rhythm strip
(`ecg_clean` + `ecg_peaks` for the beats, `ecg_delineate` for the QRS, P and T boundaries, the median
over beats) are timed and compared with the truth: the share of pages with HR within 3 bpm and QRS
within 12 ms, and the mean absolute errors of QRS, PR and QT. neurokit2 is not a dependency of the
project: `pip install neurokit2` to run this.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from inference.measure import measure
from inference.signals import Digitized, LeadSignal


def truth_digitized(truth: dict) -> Digitized:
    """The page's true signals as a perfect digitizer would return them."""
    leads = {name: LeadSignal(name, float(v["start_s"]), np.asarray(v["signal"], np.float32), 1.0, 1.0, True)
             for name, v in truth["leads"].items()}
    strip = LeadSignal("rhythm", 0.0, np.asarray(truth["rhythm"], np.float32), 1.0, 1.0, True)
    return Digitized(leads=leads, rhythm=strip, rhythm_lead=truth["rhythm_lead"])


def neurokit(strip: np.ndarray, fs: int, method: str) -> tuple[dict, float, float]:
    """({hr, qrs, pr, qt}, ms for the beats, ms for the delineation) on the rhythm strip."""
    import neurokit2 as nk

    ok = np.isfinite(strip)
    x = np.interp(np.arange(len(strip)), np.where(ok)[0], strip[ok])
    t0 = time.perf_counter()
    clean = nk.ecg_clean(x, sampling_rate=fs)
    _, info = nk.ecg_peaks(clean, sampling_rate=fs)
    t1 = time.perf_counter()
    r = np.asarray(info["ECG_R_Peaks"])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, waves = nk.ecg_delineate(clean, r, sampling_rate=fs, method=method)
    except Exception:  # noqa: BLE001 -- neurokit2 raises plain errors on strips it cannot delineate
        waves = {}
    t2 = time.perf_counter()

    def span(a: str, b: str) -> float | None:
        u, v = np.asarray(waves.get(a, []), float), np.asarray(waves.get(b, []), float)
        n = min(len(u), len(v))
        d = (v[:n] - u[:n]) / fs * 1000.0
        d = d[np.isfinite(d)]
        return float(np.median(d)) if len(d) else None

    out = {
        "hr": 60.0 / float(np.mean(np.diff(r))) * fs if len(r) > 1 else None,
        "qrs": span("ECG_R_Onsets", "ECG_R_Offsets"),
        "pr": span("ECG_P_Onsets", "ECG_R_Onsets"),
        "qt": span("ECG_R_Onsets", "ECG_T_Offsets"),
    }
    return out, (t1 - t0) * 1000.0, (t2 - t1) * 1000.0


def main(argv: list[str] | None = None) -> int:
    from inference.reading import read_ecg
    from training.page_render import render_random_page
    from training.photo_render import render_photo

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=10)
    ap.add_argument("--photo", action="store_true", help="also read each page as a phone photo")
    ap.add_argument("--methods", nargs="+", default=["prominence", "dwt"], help="ecg_delineate methods")
    a = ap.parse_args(argv)
    kinds = ["truth", "scan"] + (["photo"] if a.photo else [])
    rows: dict[tuple[str, str], list] = {}
    for seed in range(a.pages):
        page = render_random_page(seed)
        t = page.truth
        fs = int(t["fs"])
        sources = {"truth": truth_digitized(t)}
        sources["scan"] = read_ecg(page.jpeg_bytes(80)).digitized
        if a.photo:
            sources["photo"] = read_ecg(render_photo(page.image, seed).jpeg).digitized
        true = {"hr": t["heart_rate"], "qrs": t["qrs_ms"], "pr": t["pr_ms"], "qt": t["qt_ms"]}
        for kind in kinds:
            d = sources[kind]
            if d is None:
                continue
            t0 = time.perf_counter()
            m = measure(d)
            ms = (time.perf_counter() - t0) * 1000.0
            ours = {"hr": m.heart_rate_bpm, "qrs": m.qrs_ms, "pr": m.pr_ms, "qt": m.qt_ms}
            rows.setdefault((kind, "measure"), []).append((ours, true, ms, 0.0))
            strip = d.rhythm.signal.astype(np.float64)
            if np.isfinite(strip).sum() < 0.5 * len(strip):
                continue
            for method in a.methods:
                res, t_peaks, t_del = neurokit(strip, fs, method)
                rows.setdefault((kind, f"nk {method}"), []).append((res, true, t_peaks, t_del))
        print(f"page {seed + 1}/{a.pages}", flush=True)

    def share(items, key, tol):
        return np.mean([e[key] is not None and abs(e[key] - tr[key]) <= tol for e, tr, *_ in items])

    def mae(items, key):
        v = [abs(e[key] - tr[key]) for e, tr, *_ in items if e[key] is not None and tr[key] is not None]
        return f"{np.mean(v):.0f} ({len(v)})" if v else "-"

    print("\n| signals | method | HR within 3 bpm | QRS within 12 ms | QRS MAE ms | PR MAE ms | QT MAE ms "
          "| ms p50 / max (beats + delineation) |")
    print("|---|---|---|---|---|---|---|---|")
    for (kind, method), items in rows.items():
        tot = np.array([p + q for *_, p, q in items])
        print(f"| {kind} | {method} | {share(items, 'hr', 3):.2f} | {share(items, 'qrs', 12):.2f} | "
              f"{mae(items, 'qrs')} | {mae(items, 'pr')} | {mae(items, 'qt')} | "
              f"{np.median(tot):.0f} / {tot.max():.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
