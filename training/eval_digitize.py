"""Evaluate reading the paper, with ground truth: `python -m training.eval_digitize` -> reports/digitization.{md,json}

1. Rendered pages with known signals (`training.page_render`, the data set's print layout), read as
   scans and as phone photos (`training.photo_render`, "ward" difficulty): per-lead Pearson r and SNR
   (the PhysioNet/CinC 2024 digitization metric: 10 log10 of the true signal's power over the error's,
   untraced samples counted as zero), and the errors of HR, PR, QRS, QTc and ST at J+60 ms.
2. The real test pages of `training/split.json`: the reading's pass rate on the scans and on photos
   rendered from them, the diagnosis's accuracy on both (the measurement model, as the bot answers), and the HR measured from the traces
   against the HR the machine printed in the footer (`training/printed_hr.json`, read offline once).
3. Non-ECG pictures (`training.negatives`): how many are refused.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from inference import layout as L
from inference.labels import LABELS
from inference.reading import read_ecg

REPO = Path(__file__).resolve().parent.parent
REPORTS = REPO / "reports"


# ------------------------------------------------------------------------------------ metrics
def snr_db(true: np.ndarray, est: np.ndarray) -> float:
    est = np.where(np.isfinite(est), est, 0.0)
    noise = float(np.sum((true - est) ** 2))
    power = float(np.sum(true ** 2))
    if power <= 0:
        return float("nan")
    return 10.0 * np.log10(power / max(noise, 1e-12))


def pearson(true: np.ndarray, est: np.ndarray) -> float:
    ok = np.isfinite(est)
    if ok.sum() < 10 or np.std(est[ok]) < 1e-6:
        return 0.0
    return float(np.corrcoef(true[ok], est[ok])[0, 1])


def compare_page(truth: dict, reading) -> dict:
    """Per lead r and SNR, and the measurement errors of one read page against its truth."""
    out: dict = {"ok": reading.ok, "reason": reading.reason}
    if not reading.ok:
        return out
    d, m = reading.digitized, reading.measurements
    leads = {}
    for name, t in truth["leads"].items():
        est = d.leads[name].signal.astype(np.float64)
        tr = np.asarray(t["signal"], np.float64)[: len(est)]
        leads[name] = {"snr_db": snr_db(tr, est[: len(tr)]), "r": pearson(tr, est[: len(tr)])}
    rt = np.asarray(truth["rhythm"], np.float64)
    leads["rhythm"] = {"snr_db": snr_db(rt, d.rhythm.signal.astype(np.float64)),
                       "r": pearson(rt, d.rhythm.signal.astype(np.float64))}
    out["leads"] = leads
    out["rhythm_lead_ok"] = d.rhythm_lead == truth["rhythm_lead"]

    def err(measured, true):
        return None if measured is None or true is None else float(measured - true)

    out["hr_err"] = err(m.heart_rate_bpm, truth["heart_rate"])
    out["pr_err"] = err(m.pr_ms, truth["pr_ms"]) if truth.get("rhythm_kind") != "af" else None
    out["qrs_err"] = err(m.qrs_ms, truth["qrs_ms"])
    out["qtc_err"] = err(m.qtc_bazett_ms, truth["qtc_bazett_ms"])
    st_err = {}
    for name in L.LEADS:
        lm = m.leads.get(name)
        st_err[name] = err(lm.st_mv if lm is not None else None, truth["st_mv"].get(name, 0.0))
    out["st_err"] = st_err
    return out


def _share(values, limit) -> float | None:
    v = [abs(x) <= limit for x in values]
    return float(np.mean(v)) if v else None


def summarise(pages: list[dict]) -> dict:
    read = [p for p in pages if p["ok"]]
    snr = [v["snr_db"] for p in read for k, v in p["leads"].items() if k != "rhythm"]
    r = [v["r"] for p in read for k, v in p["leads"].items() if k != "rhythm"]
    snr_rhythm = [p["leads"]["rhythm"]["snr_db"] for p in read]
    # a page missing a measurement counts as a miss for that target
    hr = [p["hr_err"] if p["hr_err"] is not None else 1e9 for p in read] + [1e9] * (len(pages) - len(read))
    qrs = [p["qrs_err"] if p["qrs_err"] is not None else 1e9 for p in read] + [1e9] * (len(pages) - len(read))
    st_page = []
    st_lead = []
    for p in pages:
        if not p["ok"]:
            st_page.append(False)
            continue
        errs = [1e9 if e is None else e for e in p["st_err"].values()]
        st_lead += [abs(e) <= 0.05 for e in errs]
        st_page.append(sum(abs(e) > 0.05 for e in errs) <= 1)  # all leads but at most one within 0.05 mV
    def med(x):
        x = [v for v in x if v is not None and np.isfinite(v)]
        return float(np.median(x)) if x else None

    def mae(key):
        x = [abs(p[key]) for p in read if p.get(key) is not None]
        return float(np.mean(x)) if x else None

    return {
        "pages": len(pages),
        "read": len(read),
        "snr_db_median": med(snr),
        "snr_db_p25": float(np.percentile(snr, 25)) if snr else None,
        "pearson_median": med(r),
        "rhythm_snr_db_median": med(snr_rhythm),
        "rhythm_lead_correct": float(np.mean([p["rhythm_lead_ok"] for p in read])) if read else None,
        "hr_within_3bpm": _share(hr, 3.0),
        "qrs_within_12ms": _share(qrs, 12.0),
        "st_within_0.05mv_pages": float(np.mean(st_page)) if st_page else None,
        "st_within_0.05mv_leads": float(np.mean(st_lead)) if st_lead else None,
        "hr_mae_bpm": mae("hr_err"),
        "pr_mae_ms": mae("pr_err"),
        "qrs_mae_ms": mae("qrs_err"),
        "qtc_mae_ms": mae("qtc_err"),
        "reasons": {k: sum(p["reason"] == k for p in pages) for k in {p["reason"] for p in pages if not p["ok"]}},
    }


# ------------------------------------------------------------------------------------- parts
def rendered(n: int, log) -> tuple[dict, dict, list]:
    """Summaries of n rendered pages read as scans and as photos, and the first 8 (page, photo) pairs."""
    from training.page_render import render_random_page
    from training.photo_render import render_photo

    scans, shots, samples = [], [], []
    for seed in range(n):
        page = render_random_page(seed)
        scans.append(compare_page(page.truth, read_ecg(page.jpeg_bytes(80))))
        photo = render_photo(page.image, seed)
        shots.append(compare_page(page.truth, read_ecg(photo.jpeg)))
        if len(samples) < 8:
            samples.append((page.image, photo))
        log(f"rendered {seed + 1}/{n}")
    return summarise(scans), summarise(shots), samples


def real_pages(limit: int | None, classify: bool, log) -> dict:
    from inference.image_io import load_image
    from training.data import DEFAULT_DATA
    from training.photo_render import render_photo

    split = json.loads((REPO / "training" / "split.json").read_text())["test"]
    printed = json.loads((REPO / "training" / "printed_hr.json").read_text()) if (REPO / "training" / "printed_hr.json").exists() else {}
    if limit:
        split = split[:limit]
    if classify:
        from inference.analysis import diagnosis_probabilities
    rows = []
    for i, item in enumerate(split):
        image = load_image((Path(DEFAULT_DATA) / item["name"]).read_bytes())
        photo = render_photo(image, 1000 + i)
        row = {"name": item["name"], "label": item["label"], "printed_hr": printed.get(item["name"])}
        kinds = [("scan", image), ("photo", photo.jpeg)]  # the scan is decoded once
        if classify:  # the header and footer (patient ID, date, printed rate) painted white
            from inference.preprocess import mask_header_footer

            kinds.append(("masked", mask_header_footer(image)))
        for kind, payload in kinds:
            reading = read_ecg(payload)
            row[f"{kind}_ok"] = reading.ok
            row[f"{kind}_reason"] = reading.reason
            row[f"{kind}_hr"] = reading.measurements.heart_rate_bpm if reading.ok else None
            if classify and reading.ok:  # the product's diagnosis (a refused picture counts as wrong)
                row[f"{kind}_pred"] = LABELS[int(np.argmax(diagnosis_probabilities(reading)))]
        rows.append(row)
        log(f"real {i + 1}/{len(split)}")

    def acc(kind):
        preds = [r.get(f"{kind}_pred") for r in rows]
        return float(np.mean([p == r["label"] for p, r in zip(preds, rows)])) if classify else None

    def hr_share(kind):
        pairs = [(r[f"{kind}_hr"], r["printed_hr"]) for r in rows if r["printed_hr"] is not None]
        return (float(np.mean([h is not None and abs(h - p) <= 5 for h, p in pairs])) if pairs else None, len(pairs))

    masked_same = (float(np.mean([r.get("masked_pred") == r.get("scan_pred") for r in rows])) if classify else None)
    hs, n_hr = hr_share("scan")
    hp, _ = hr_share("photo")
    return {
        "pages": len(rows),
        "scan_accepted": float(np.mean([r["scan_ok"] for r in rows])),
        "photo_accepted": float(np.mean([r["photo_ok"] for r in rows])),
        "photo_refusals": {k: sum(r["photo_reason"] == k for r in rows) for k in {r["photo_reason"] for r in rows} if k},
        "scan_accuracy": acc("scan"),
        "photo_accuracy": acc("photo"),
        "masked_same_diagnosis": masked_same,
        "hr_within_5bpm_of_printed_scan": hs,
        "hr_within_5bpm_of_printed_photo": hp,
        "printed_hr_pages": n_hr,
        "rows": rows,
    }


def negatives(log) -> dict:
    from training.negatives import generated_images, library_images

    items = library_images() + generated_images()
    refused = []
    for name, img in items:
        reading = read_ecg(np.ascontiguousarray(img))
        refused.append(not reading.ok)
    log(f"negatives {len(items)}")
    return {"images": len(items), "refused": float(np.mean(refused)) if refused else None}


# ------------------------------------------------------------------------------------ report
def write_report(res: dict, samples: list) -> None:
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / "digitization.json").write_text(json.dumps(res, indent=1, default=str) + "\n")
    if samples:
        from PIL import Image

        from training.photo_render import contact_sheet

        sheet = contact_sheet([s[0] for s in samples], [s[1] for s in samples])
        Image.fromarray(sheet).save(REPORTS / "photo_samples.jpg", quality=80)

    def f(v, fmt="{:.2f}"):
        return "—" if v is None else fmt.format(v)

    lines = ["# Reading the paper: digitization and measurement", "",
             f"Command: `{res['command']}` ({res['seconds']:.0f} s on this 2-core CPU).", "",
             "## Rendered pages with known signals", "",
             "| | scans | phone photos | target |", "|---|---|---|---|"]
    s, p = res["rendered"]["scans"], res["rendered"].get("photos") or {}
    for label, key, fmt, target in (
        ("pages read", "read", "{:.0f}", ""),
        ("median SNR, 12 leads (dB)", "snr_db_median", "{:.1f}", "≥ 15 scans, ≥ 8 photos"),
        ("25th percentile SNR (dB)", "snr_db_p25", "{:.1f}", ""),
        ("median Pearson r", "pearson_median", "{:.3f}", ""),
        ("median SNR, rhythm strip (dB)", "rhythm_snr_db_median", "{:.1f}", ""),
        ("rhythm strip's lead read right", "rhythm_lead_correct", "{:.2f}", ""),
        ("pages with HR within 3 bpm", "hr_within_3bpm", "{:.2f}", "≥ 0.90"),
        ("pages with QRS within 12 ms", "qrs_within_12ms", "{:.2f}", "≥ 0.90"),
        ("pages with ST (J+60) within 0.05 mV in all leads but one", "st_within_0.05mv_pages", "{:.2f}", "≥ 0.90"),
        ("leads with ST within 0.05 mV", "st_within_0.05mv_leads", "{:.2f}", ""),
        ("HR mean abs error (bpm)", "hr_mae_bpm", "{:.1f}", ""),
        ("PR mean abs error (ms)", "pr_mae_ms", "{:.0f}", ""),
        ("QRS mean abs error (ms)", "qrs_mae_ms", "{:.0f}", ""),
        ("QTc mean abs error (ms)", "qtc_mae_ms", "{:.0f}", ""),
    ):
        lines.append(f"| {label} | {f(s.get(key), fmt)} | {f(p.get(key), fmt)} | {target} |")
    lines += ["", f"Refusals: scans {s.get('reasons')}, photos {p.get('reasons')}.", ""]
    if res.get("real"):
        r = res["real"]
        lines += ["## The real test pages (training/split.json)", "",
                  "| | scans | photos rendered from them | target |", "|---|---|---|---|",
                  f"| accepted | {f(r['scan_accepted'])} | {f(r['photo_accepted'])} | photos ≥ 0.98 |",
                  f"| diagnosis accuracy (refused = wrong) | {f(r['scan_accuracy'])} | {f(r['photo_accuracy'])} | photos within 0.05 of scans |",
                  f"| HR within 5 bpm of the printed HR ({r['printed_hr_pages']} pages with a readable footer) | "
                  f"{f(r['hr_within_5bpm_of_printed_scan'])} | {f(r['hr_within_5bpm_of_printed_photo'])} | ≥ 0.90 |",
                  f"| header and footer painted white: the scan's diagnosis unchanged | {f(r.get('masked_same_diagnosis'))} "
                  "| | 1.00 |",
                  "", f"Photo refusals: {r['photo_refusals']}.", ""]
    if res.get("negatives"):
        n = res["negatives"]
        lines += ["## Non-ECG pictures", "", f"{n['images']} images, refused: {f(n['refused'])} (target ≥ 0.95).", ""]
    lines += ["![Phone photos from the renderer](photo_samples.jpg)", ""]
    (REPORTS / "digitization.md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.eval_digitize", description=__doc__.splitlines()[0])
    ap.add_argument("--rendered", type=int, default=40, help="rendered pages (each read as a scan and a photo)")
    ap.add_argument("--real", type=int, default=0, help="real test pages (0: all 84)")
    ap.add_argument("--no-real", action="store_true")
    ap.add_argument("--no-classify", action="store_true", help="skip today's classifier on the real pages")
    ap.add_argument("--no-negatives", action="store_true")
    a = ap.parse_args(argv)
    t0 = time.time()

    def log(msg):
        print(msg, flush=True)

    res: dict = {"command": "python -m training.eval_digitize " + " ".join(sys.argv[1:] if argv is None else argv)}
    scans, photos, samples = rendered(a.rendered, log)
    res["rendered"] = {"scans": scans, "photos": photos}
    if not a.no_real:
        res["real"] = real_pages(a.real or None, not a.no_classify, log)
    if not a.no_negatives:
        res["negatives"] = negatives(log)
    res["seconds"] = time.time() - t0
    write_report(res, samples)
    print(json.dumps({k: v for k, v in res.items() if k != "real"}, indent=1, default=str))
    if res.get("real"):
        print({k: v for k, v in res["real"].items() if k != "rows"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
