"""The phone-photo renderer: deterministic, a real messenger JPEG, and exact ground truth."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from training import photo_render as pr

W, H = 1600, 1137
# Asymmetric layout (so a 180-degree mix-up cannot pass): corners inset, plus interior points.
CORNER_MARKS = [(45, 45), (W - 46, 45), (W - 46, H - 46), (45, H - 46)]
INNER_MARKS = [(420, 300), (1150, 620), (760, 930), (260, 800), (1400, 250)]
MARKS = CORNER_MARKS + INNER_MARKS
GREEN, MAGENTA = (0, 200, 0), (255, 0, 255)  # TL is green, the rest magenta (RGB)
R = 13


def marker_page() -> np.ndarray:
    page = np.full((H, W, 3), 255, np.uint8)
    cv2.rectangle(page, (0, 0), (W - 1, H - 1), (90, 90, 90), 3)  # a visible sheet edge
    for i, (x, y) in enumerate(MARKS):
        cv2.circle(page, (x, y), R, GREEN if i == 0 else MAGENTA, -1, cv2.LINE_AA)
    return page


PAGE = marker_page()


def _score(img: np.ndarray, green: bool) -> np.ndarray:
    f = img.astype(np.float32)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    return g - np.maximum(r, b) if green else np.minimum(r, b) - g


def _find(img: np.ndarray, at: np.ndarray, radius: float, green: bool) -> np.ndarray | None:
    x0, y0 = int(max(0, at[0] - radius)), int(max(0, at[1] - radius))
    x1, y1 = int(min(img.shape[1], at[0] + radius + 1)), int(min(img.shape[0], at[1] + radius + 1))
    s = _score(img[y0:y1, x0:x1], green)
    wgt = np.clip(s - 40, 0, None)
    if wgt.sum() < 5 * 40:
        return None
    yy, xx = np.mgrid[y0:y1, x0:x1]
    return np.array([(xx * wgt).sum() / wgt.sum(), (yy * wgt).sum() / wgt.sum()])


def _seed_where(pred, start=0, limit=400):
    for seed in range(start, start + limit):
        _, p = pr.sample_shot((H, W), seed)
        if pred(p):
            return seed
    raise AssertionError("no seed found")


def test_same_seed_same_bytes_and_a_messenger_jpeg():
    a, b = pr.render_photo(PAGE, 7), pr.render_photo(PAGE, 7)
    assert a.jpeg == b.jpeg and np.allclose(a.corners, b.corners) and a.params == b.params
    assert pr.render_photo(PAGE, 8).jpeg != a.jpeg
    img = cv2.imdecode(np.frombuffer(a.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert a.jpeg[:2] == b"\xff\xd8" and img is not None
    assert max(img.shape[:2]) == 1280 and img.shape[1::-1] == tuple(a.params["final_size"])
    assert a.corners.shape == (4, 2)


def test_clean_keeps_the_geometry():
    a, b = pr.render_photo(PAGE, 11), pr.render_photo(PAGE, 11, clean=True)
    assert np.allclose(a.corners, b.corners)
    assert a.params["background"] == b.params["background"]


CASES = {
    "landscape": lambda p: p["frame"] == "landscape" and not p["upside_down"] and p["curl_mode"] == "none",
    "portrait_curled": lambda p: p["frame"] == "portrait" and p["curl_mode"] != "none" and p["curl_lift_mm"] > 8,
    "upside_down": lambda p: p["upside_down"] and not p["free_roll"],
    "edge_curl": lambda p: p["curl_mode"] == "edge" and p["curl_lift_mm"] > 8 and p["k1"] < -0.04,
    "ridge": lambda p: p["curl_mode"] == "ridge",
    "free_roll": lambda p: p["free_roll"],
}


@pytest.mark.parametrize("case", list(CASES))
def test_markers_land_where_page_to_photo_says(case):
    seed = _seed_where(CASES[case])
    photo = pr.render_photo(PAGE, seed, clean=True)
    img = photo.image()
    pred = photo.page_to_photo(np.array(MARKS, dtype=np.float64))
    gaps = np.linalg.norm(pred[:, None] - pred[None], axis=-1) + np.eye(len(MARKS)) * 1e9
    radius = min(30.0, 0.45 * gaps.min())
    errs = []
    for i, at in enumerate(pred):
        found = _find(img, at, radius, green=(i == 0))
        assert found is not None, f"{case} seed {seed}: marker {MARKS[i]} not near {at}"
        errs.append(np.linalg.norm(found - at))
    assert max(errs) < 1.0, f"{case} seed {seed}: errors {np.round(errs, 2)}"
    # The corners are the forward map of the page's outer corners, and the TL one is green-side.
    assert np.allclose(photo.corners, photo.page_to_photo(pr.page_corners(W, H)))
    assert np.linalg.norm(photo.corners[0] - pred[0]) < np.linalg.norm(photo.corners[2] - pred[0])


def test_curl_and_lens_make_it_not_a_homography():
    seed = _seed_where(CASES["edge_curl"])
    cam, _ = pr.sample_shot((H, W), seed)
    gx, gy = np.meshgrid(np.linspace(0, W - 1, 9), np.linspace(0, H - 1, 7))
    src = np.stack([gx, gy], -1).reshape(-1, 2)
    dst = cam.page_to_photo(src)
    hom, _ = cv2.findHomography(src, dst)
    fit = cv2.perspectiveTransform(src[None].astype(np.float64), hom)[0]
    assert np.abs(fit - dst).max() > 3.0


def test_inverse_map_agrees_with_forward():
    seed = _seed_where(CASES["portrait_curled"])
    cam, _ = pr.sample_shot((H, W), seed)
    pts = np.array([[100.0, 80.0], [800, 560], [1500, 1000], [30, 1100]])
    X, Y = cam.phone_to_mm(cam.page_to_phone(pts))
    assert np.abs(cam.mm_to_page_px(X, Y) - pts).max() < 0.05


def test_size_and_framing_over_many_shots():
    rolls = set()
    for seed in range(150):
        cam, p = pr.sample_shot((H, W), seed)
        assert 0.45 <= p["long_side_fraction"] <= 0.90, (seed, p["long_side_fraction"])
        border = cam.page_to_photo(pr._border_points(W, H))
        fw, fh = p["final_size"]
        assert border.min() >= 0 and border[:, 0].max() <= fw - 1 and border[:, 1].max() <= fh - 1, seed
        assert max(fw, fh) == 1280 and 5 <= p["tilt_deg"] <= 20
        rolls.add((p["frame"], p["base_rotation_deg"]))
    assert {("landscape", 0), ("landscape", 180), ("portrait", 90), ("portrait", 270)} <= rolls
    for seed in range(20):
        _, p = pr.sample_shot((H, W), seed, difficulty="easy")
        assert p["frame"] == "landscape" and p["tilt_deg"] <= 3 and p["long_side_fraction"] >= 0.78


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_cut_off_pushes_about_half_the_page_out(seed):
    photo = pr.render_photo(PAGE, seed, cut_off=0.5)
    assert 0.4 <= photo.params["outside_fraction"] <= 0.6
    assert abs(pr.outside_fraction(photo.camera, n=40) - 0.5) < 0.1
    fw, fh = photo.params["final_size"]
    c = photo.corners
    out = (c[:, 0] < 0) | (c[:, 0] > fw - 1) | (c[:, 1] < 0) | (c[:, 1] > fh - 1)
    assert 1 <= out.sum() <= 3


def test_every_background_and_the_contact_sheet():
    kinds, photos = set(), []
    for seed in range(40):
        _, bg_rng, *_ = pr._streams(seed)
        kinds.add(str(bg_rng.choice(pr.BACKGROUNDS)))
    assert kinds == set(pr.BACKGROUNDS)
    photos = [pr.render_photo(PAGE, s) for s in (0, 1)]
    sheet = pr.contact_sheet(PAGE, photos, cols=2, cell=200)
    assert sheet.dtype == np.uint8 and sheet.shape[1] == 400
