"""Reading the paper, step by step, against ground truth: image limits, the sheet finder on rendered
photos with known corners, the grid on a real page, the digitizer on rendered pages with known signals."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inference import layout as L
from inference.digitize import digitize
from inference.grid import find_grid
from inference.image_io import ImageRejected, load_image
from inference.reading import read_ecg
from inference.sheet import find_sheet
from training.eval_digitize import snr_db
from training.page_render import render_random_page
from training.photo_render import render_photo

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ecg-images"
needs_data = pytest.mark.skipif(not DATA.exists(), reason="../shared/data/ecg-images is not beside the checkout")


def _png(arr: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, **kw).save(buf, format="PNG")
    return buf.getvalue()


# ------------------------------------------------------------------------------- image limits
def test_pixel_bomb_refused_before_decoding():
    # a PNG of a few hundred bytes that claims 4 x 40 000 pixels
    data = _png(np.zeros((4, 40_000), np.uint8))
    assert len(data) < 5_000
    with pytest.raises(ImageRejected) as exc:
        load_image(data)
    assert exc.value.code in ("too_large", "bad_aspect")
    huge = _png(np.zeros((13_000, 13_000 // 2), np.uint8))
    with pytest.raises(ImageRejected) as exc:
        load_image(huge)
    assert exc.value.code == "too_large"


def test_other_formats_and_damaged_files_refused():
    buf = io.BytesIO()
    Image.new("RGB", (800, 600), "white").save(buf, format="GIF")
    for data in (buf.getvalue(), b"not an image at all", b""):
        with pytest.raises(ImageRejected) as exc:
            load_image(data)
        assert exc.value.code == "not_image"
    good = io.BytesIO()
    Image.new("RGB", (800, 600), "white").save(good, format="JPEG")
    with pytest.raises(ImageRejected) as exc:
        load_image(good.getvalue()[: len(good.getvalue()) // 2])  # truncated
    assert exc.value.code == "not_image"


def test_animated_and_16_bit_png_refused():
    frames = [Image.new("RGB", (800, 600), c) for c in ("white", "black")]
    buf = io.BytesIO()
    frames[0].save(buf, format="PNG", save_all=True, append_images=frames[1:])
    with pytest.raises(ImageRejected) as exc:
        load_image(buf.getvalue())
    assert exc.value.code == "animated"
    deep = Image.fromarray(np.full((600, 800), 40_000, np.uint16))
    buf = io.BytesIO()
    deep.save(buf, format="PNG")
    with pytest.raises(ImageRejected) as exc:
        load_image(buf.getvalue())
    assert exc.value.code == "deep_image"


def test_read_ecg_gives_reason_codes_not_tracebacks():
    assert read_ecg(b"\x89PNG garbage").reason == "not_image"
    assert read_ecg(_png(np.zeros((4, 40_000), np.uint8))).reason in ("too_large", "bad_aspect")
    assert read_ecg(_png(np.zeros((600, 3_000), np.uint8))).reason == "bad_aspect"
    blank = np.full((1137, 1600, 3), 255, np.uint8)
    reading = read_ecg(_png(blank))
    assert not reading.ok and reading.reason == "not_ecg"


# ------------------------------------------------------------------------------------- the sheet
@pytest.fixture(scope="module")
def rendered_pages():
    return [render_random_page(seed) for seed in range(3)]


def test_a_page_that_is_already_the_page_goes_through_unchanged(rendered_pages):
    page = rendered_pages[0].image
    sheet = find_sheet(page)
    assert sheet.method == "as_is"
    assert sheet.page is page or np.array_equal(sheet.page, page)


@pytest.mark.parametrize("seed", [0, 1, 2, 5])
def test_rectifier_finds_the_corners_of_a_rendered_photo(rendered_pages, seed):
    page = rendered_pages[seed % 3]
    photo = render_photo(page.image, seed)
    sheet = find_sheet(photo.image())
    assert sheet.corners is not None and sheet.problem is None
    # canonical px (5.7 px = 1 mm): the rows are where the layout has them
    assert _registration_error(photo, sheet) < 15


def _registration_error(photo, sheet) -> float:
    """Median distance (canonical px) between where the rectified page puts the rows' zero lines and
    where they are (the renderer's exact map)."""
    import cv2

    xs = np.linspace(L.T0_X, L.T0_X + 1422, 9)
    pts = np.array([(x, y) for y in L.BASELINE_Y for x in xs], np.float32)
    h = cv2.getPerspectiveTransform(sheet.corners.astype(np.float32),
                                    np.array([[0, 0], [1600, 0], [1600, 1137], [0, 1137]], np.float32))
    back = cv2.perspectiveTransform(photo.page_to_photo(pts).reshape(-1, 1, 2).astype(np.float32), h)
    return float(np.median(np.linalg.norm(back.reshape(-1, 2) - pts, axis=1)))


def test_upside_down_and_portrait_shots_are_turned_back(rendered_pages):
    from training.photo_render import sample_shot

    seen = {}
    for seed in range(80):
        rot = sample_shot(rendered_pages[0].image.shape[:2], seed)[1].get("base_rotation_deg")
        if rot in (90, 180, 270) and rot not in seen:
            photo = render_photo(rendered_pages[0].image, seed)
            sheet = find_sheet(photo.image())
            seen[rot] = (seed, sheet.rotation, _registration_error(photo, sheet))
    assert set(seen) == {90, 180, 270}, seen
    for rot, (seed, found_rot, err) in seen.items():
        assert found_rot == rot and err < 15, (rot, seed, found_rot, err)


def test_half_the_sheet_out_of_frame_is_not_read(rendered_pages):
    photo = render_photo(rendered_pages[1].image, 3, cut_off=0.5)
    reading = read_ecg(photo.jpeg)
    assert not reading.ok
    assert reading.reason in ("cut_off", "not_ecg")


# -------------------------------------------------------------------------------- grid, digitizer
@needs_data
def test_grid_on_a_real_page():
    image = load_image((DATA / "MI" / "MI(1).jpg").read_bytes())
    grid = find_grid(image)
    assert grid.scale_source == "calibration" and len(grid.pulses) == 4
    assert abs(grid.px_per_mv - L.PX_PER_MV) < 2.0
    assert grid.time_source == "separators" and len(grid.separators_x) == 3
    assert all(abs(b - ref) < 3 for b, ref in zip(grid.baselines_y, L.BASELINE_Y))


def test_digitizer_on_rendered_scans_recovers_the_signals(rendered_pages):
    snrs, corr = [], []
    for page in rendered_pages:
        d = digitize(load_image(page.jpeg_bytes(80)))
        for name in L.LEADS:
            true = page.truth["leads"][name]["signal"].astype(np.float64)
            est = d.leads[name].signal.astype(np.float64)
            assert d.leads[name].ok, name
            snrs.append(snr_db(true, est))
            ok = np.isfinite(est)
            corr.append(np.corrcoef(true[ok], est[ok])[0, 1])
        assert d.rhythm_lead == page.truth["rhythm_lead"]
    assert np.median(snrs) > 7.0, np.median(snrs)
    assert np.median(corr) > 0.9, np.median(corr)


def test_an_untraceable_lead_is_marked_not_invented(rendered_pages):
    page = rendered_pages[0].image.copy()
    x0, x1 = int(L.T0_X + 2.5 * L.PX_PER_S) + 5, int(L.T0_X + 5 * L.PX_PER_S) - 5
    page[int(L.BASELINE_Y[0] - 150):int(L.BASELINE_Y[0] + 60), x0:x1] = 255  # aVR erased
    d = digitize(page)
    assert not d.leads["aVR"].ok and np.isnan(d.leads["aVR"].signal).all()
    assert d.leads["I"].ok and d.leads["V1"].ok


def test_a_printout_in_coloured_ink_is_read_but_a_chart_is_not():
    """The coloured-trace rule (a line chart's rows pass for traces on a photo) does not refuse a printout
    whose pulses and separators stand in place, however tinted its ink (a dim lamp's warm cast, a
    coloured printer ribbon); a chart screenshot, which has neither, is still refused."""
    from inference.ecg_check import MAX_TRACE_SATURATION, trace_saturation
    from training.negatives import generated_images

    page = render_random_page(6).image.copy()
    page[page.mean(axis=2) < 110] = (170, 60, 0)  # the ink printed orange-brown
    reading = read_ecg(render_photo(page, 6, clean=True).jpeg)
    assert trace_saturation(reading.sheet.page) > MAX_TRACE_SATURATION  # the rule alone would refuse it
    assert reading.ok
    charts = [img for name, img in generated_images() if name.startswith("gen:screenshot-charts")]
    assert charts and all(not read_ecg(np.ascontiguousarray(img)).ok for img in charts)
