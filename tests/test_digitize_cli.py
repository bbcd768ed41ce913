"""`ecg-bot digitize` (inference.cli.digitize_main) and `inference.export`: JSON contract, CSV and PNG
files, bad files as `"ok": false` lines with exit code 1, no TensorFlow, the npz round trip."""

from __future__ import annotations

import csv
import io
import json
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inference import export, layout as L
from inference.cli import digitize_main
from inference.reading import read_ecg

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "ecg-images"
needs_images = pytest.mark.skipif(not SHARED.is_dir(), reason=f"ECG images not available at {SHARED}")

TOP_KEYS = {"file", "ok", "reason", "heart_rate_bpm", "rhythm_regular", "pr_ms", "qrs_ms", "qt_ms", "qtc_ms",
            "axis_deg", "rhythm_lead", "leads"}
LEAD_KEYS = {"quality", "st_mv", "q_mv", "r_mv", "s_mv", "t_polarity"}


def real_page() -> Path:
    return sorted(SHARED.rglob("*.jpg"))[200]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@pytest.fixture()
def bad_files(tmp_path) -> dict[str, Path]:
    """Generated bad inputs: missing, not an image, truncated, huge (header only), animated, 16-bit."""
    files = {"missing": tmp_path / "missing.jpg"}
    files["text"] = tmp_path / "notes.txt"
    files["text"].write_text("not an image")
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (900, 1200, 3), np.uint8)).save(buf, "JPEG")
    files["truncated"] = tmp_path / "truncated.jpg"
    files["truncated"].write_bytes(buf.getvalue()[: len(buf.getvalue()) // 3])
    files["huge"] = tmp_path / "huge.png"
    files["huge"].write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 40000, 30000, 8, 2, 0, 0, 0))
                              + _png_chunk(b"IEND", b""))
    frames = [Image.new("RGB", (800, 600), c) for c in ("white", "black")]
    files["animated"] = tmp_path / "animated.png"
    frames[0].save(files["animated"], save_all=True, append_images=frames[1:])
    files["deep"] = tmp_path / "deep.png"
    Image.fromarray(np.full((600, 800), 30000, np.uint16)).save(files["deep"])
    return files


def test_bad_files_are_ok_false_lines_with_exit_1_and_no_traceback(bad_files, capsys):
    paths = [str(p) for p in bad_files.values()]
    rc = digitize_main(["--json", *paths])
    out, err = capsys.readouterr()
    assert rc == 1 and "Traceback" not in out + err
    rows = [json.loads(line) for line in out.strip().splitlines()]
    assert [r["file"] for r in rows] == paths
    codes = {name: r["reason"]["code"] for name, r in zip(bad_files, rows)}
    for r in rows:
        assert TOP_KEYS <= set(r) and r["ok"] is False and r["reason"]["detail"]
        assert r["heart_rate_bpm"] is None and r["axis_deg"] is None and r["leads"] == {}
    assert codes == {"missing": "cannot_read", "text": "not_image", "truncated": "not_image",
                     "huge": "too_large", "animated": "animated", "deep": "deep_image"}
    # the readable form: one line a file, no traceback
    assert digitize_main(paths) == 1
    out, err = capsys.readouterr()
    assert len(out.strip().splitlines()) == len(paths) and "not read" in out and "Traceback" not in err


@needs_images
def test_real_page_json_csv_and_plot(tmp_path, bad_files, capsys):
    page = tmp_path / "page one.jpg"
    page.write_bytes(real_page().read_bytes())
    rc = digitize_main(["--json", "--csv", str(tmp_path / "csv"), "--plot", str(tmp_path / "plot"), str(page),
                        str(bad_files["text"])])
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert rc == 1  # one bad file among them
    r = rows[0]
    assert TOP_KEYS <= set(r) and r["ok"] is True and r["reason"] is None
    assert 30 < r["heart_rate_bpm"] < 200 and isinstance(r["rhythm_regular"], bool)
    assert 60 <= r["qrs_ms"] <= 200 and r["qt_ms"] > r["qrs_ms"] and r["qtc_ms"] > 250
    assert r["axis_deg"] is None or -180 <= r["axis_deg"] <= 180
    assert r["rhythm_lead"] in L.RHYTHM_CANDIDATES
    assert set(r["leads"]) == set(L.LEADS)
    for lead in r["leads"].values():
        assert set(lead) == LEAD_KEYS and lead["quality"] in ("good", "poor", "untraced")
    assert rows[1]["ok"] is False
    # CSV: header, 5000 rows at 500 Hz, each lead only inside its own 2.5 s window
    text = (tmp_path / "csv" / "page one.csv").read_text()
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["t_s", *L.LEADS, "rhythm"]
    body = table[1:]
    assert len(body) == 5000 and all(len(row) == 14 for row in body)
    assert body[0][0] == "0.000" and body[1][0] == "0.002" and body[-1][0] == "9.998"
    for j, name in enumerate(L.LEADS, start=1):
        _, col, start = L.lead_window(name)
        i0, i1 = int(start * 500), int((start + 2.5) * 500)
        assert all(row[j] == "" for row in body[:i0] + body[i1:]), name
        inside = [row[j] for row in body[i0:i1] if row[j] != ""]
        assert len(inside) > 0.5 * (i1 - i0), name
        assert all(abs(float(v)) < 10 and len(v.split(".")[1]) == 3 for v in inside)
    assert sum(row[13] != "" for row in body) > 4000  # the rhythm strip covers the 10 s
    png = (tmp_path / "plot" / "page one.png").read_bytes()
    assert Image.open(io.BytesIO(png)).format == "PNG"
    assert not (tmp_path / "csv" / "notes.csv").exists()


@needs_images
def test_digitize_starts_without_tensorflow(tmp_path):
    code = ("import sys; from bot.cli import main; rc = main(['digitize', '--json', sys.argv[1]]); "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, str(real_page())], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] is True


@needs_images
def test_export_round_trip_and_plot_speed():
    reading = read_ecg(real_page().read_bytes())
    assert reading.ok, reading.detail
    d = reading.digitized
    blob = export.to_npz_bytes(d)
    assert len(blob) < 80_000
    back = export.from_npz_bytes(blob)
    assert back.rhythm_lead == d.rhythm_lead and back.fs == d.fs and back.scale_source == d.scale_source
    for name in L.LEADS:
        a, b = d.leads[name], back.leads[name]
        assert (a.ok, a.start_s) == (b.ok, b.start_s) and b.signal.dtype == np.float32
        assert np.array_equal(np.isnan(a.signal), np.isnan(b.signal))
        ok = ~np.isnan(a.signal)
        assert np.allclose(a.signal[ok], b.signal[ok], atol=5e-3)
    assert export.to_csv(back).splitlines()[0] == ",".join(export.CSV_COLUMNS)
    export.plot_png(d, reading.measurements)  # warm
    t = time.perf_counter()
    png = export.plot_png(d, reading.measurements)
    assert time.perf_counter() - t < 0.3
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.width > 1200
    # the measurements dict (as stored for the chat) works as well as the object
    assert export.plot_png(back, reading.measurements.to_dict())[:8] == b"\x89PNG\r\n\x1a\n"


@needs_images
def test_untraced_leads_are_empty_in_csv_and_marked_in_the_plot():
    from dataclasses import replace

    d = read_ecg(real_page().read_bytes()).digitized
    dead = replace(d.leads["V1"], signal=np.full_like(d.leads["V1"].signal, np.nan), ok=False, traced_fraction=0.0)
    d2 = replace(d, leads={**d.leads, "V1": dead})
    table = list(csv.reader(io.StringIO(export.to_csv(d2))))
    j = table[0].index("V1")
    assert all(row[j] == "" for row in table[1:])
    assert export.plot_png(d2)[:4] == b"\x89PNG"
