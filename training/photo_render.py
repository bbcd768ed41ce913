"""A phone photo of a printed ECG page, as a clinician on a ward would send it, with exact ground truth.

`render_photo(page, seed)` lays the page (an RGB uint8 image of the printout) on a procedurally
generated desk, bed or blanket and photographs it with a modelled phone: the page plane is tilted in
3-D and rolled, projected by a pinhole camera with a phone focal length, the paper is gently curled
and the lens has barrel distortion (so the page is *not* a pure homography of the printout), the
light is uneven (lamp hot spot, gradient, hand shadow, white-balance cast, vignetting), a finger or a
pen may lie over the margin, and the sensor adds defocus, motion blur, noise, sharpening and the
phone's JPEG; the messenger then resizes the long side to 1280 px and re-compresses.

Every geometric step is an analytic map, so `Photo.page_to_photo` sends any page point to where it
landed in the delivered image (and `Photo.corners` is that map at the page's four corners).

Coordinates: pixel centres at integers (OpenCV's convention), x right, y down, both in the page and in
the photo. The page's outer edge therefore runs from -0.5 to W-0.5 (and -0.5 to H-0.5); the corners
are TL, TR, BR, BL of the page *as printed* (TL is the top-left of the upright printout), wherever the
roll put them in the photo.

Everything is drawn from `np.random.SeedSequence(seed)`: the same seed gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

FINAL_LONG = 1280  # the messenger's long side
PHONE_SIZES = ((1440, 1080), (1600, 1200), (1920, 1440))  # (long, short) of the phone's photo, 4:3
PAGE_LONG_MM = 297.0  # a landscape A4 printout
BACKGROUNDS = ("wood", "laminate", "dark_desk", "cloth", "bed_sheet", "blanket")
DIFFICULTIES = ("easy", "ward")
_STEP = 8  # the inverse map is solved on this coarse grid (phone px) and interpolated: it is smooth


# --------------------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class PageCamera:
    """The full forward model page px -> photo px: curl, 3-D pose, pinhole, barrel lens, resize."""

    page_size: tuple[int, int]  # (W, H) of the page image, px
    page_mm: tuple[float, float]  # physical (width, height) of the sheet
    rotation: np.ndarray  # 3x3, page frame -> camera frame
    translation: np.ndarray  # (3,), mm; the camera looks along +z
    focal: float  # phone px
    center: tuple[float, float]  # principal point, phone px
    k1: float  # radial distortion on normalised coordinates (negative: barrel)
    curl_mode: str  # "none", "edge", "both", "ridge"
    curl_axis: int  # 0: the lift varies along the page's x (cylinder axis vertical), 1: along y
    curl_lift: float  # mm toward the camera at the most lifted line
    curl_s0: float  # where the bend starts ("edge") or the ridge line is ("ridge"), 0..1
    curl_flip: bool  # "edge": the lifted edge is the left/top one instead of right/bottom
    phone_size: tuple[int, int]  # (w, h) of the phone's photo
    final_size: tuple[int, int]  # (w, h) of the delivered photo

    # -- the curl: lift z(s) in mm and its slope dz/ds_mm, s in 0..1 across the bend
    def _s(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        wmm, hmm = self.page_mm
        s = (X / wmm + 0.5) if self.curl_axis == 0 else (Y / hmm + 0.5)
        s = np.clip(s, 0.0, 1.0)
        return 1.0 - s if (self.curl_mode == "edge" and self.curl_flip) else s

    def lift(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        s = self._s(X, Y)
        if self.curl_mode == "edge":
            return self.curl_lift * np.clip((s - self.curl_s0) / (1.0 - self.curl_s0), 0.0, 1.0) ** 2
        if self.curl_mode == "both":
            return self.curl_lift * (2.0 * s - 1.0) ** 2
        if self.curl_mode == "ridge":
            return self.curl_lift * np.exp(-0.5 * ((s - self.curl_s0) / 0.18) ** 2)
        return np.zeros_like(s)

    def slope(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """d(lift)/d(mm across the bend), signed along the page's +x (axis 0) or +y (axis 1)."""
        span = self.page_mm[self.curl_axis]
        s = self._s(X, Y)
        if self.curl_mode == "edge":
            a = np.clip((s - self.curl_s0) / (1.0 - self.curl_s0), 0.0, 1.0)
            d = 2.0 * self.curl_lift * a / (1.0 - self.curl_s0)
            d = -d if self.curl_flip else d
        elif self.curl_mode == "both":
            d = 4.0 * self.curl_lift * (2.0 * s - 1.0)
        elif self.curl_mode == "ridge":
            u = (s - self.curl_s0) / 0.18
            d = -self.curl_lift * u / 0.18 * np.exp(-0.5 * u * u)
        else:
            d = np.zeros_like(s)
        return d / span

    # -- page px <-> page mm
    def page_px_to_mm(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        (w, h), (wmm, hmm) = self.page_size, self.page_mm
        return (pts[..., 0] + 0.5) / w * wmm - wmm / 2, (pts[..., 1] + 0.5) / h * hmm - hmm / 2

    def mm_to_page_px(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        (w, h), (wmm, hmm) = self.page_size, self.page_mm
        return np.stack([(X + wmm / 2) / wmm * w - 0.5, (Y + hmm / 2) / hmm * h - 0.5], axis=-1)

    # -- forward
    def _normalised(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """Undistorted normalised image coordinates of the curled page point (X, Y) mm."""
        z = self.lift(X, Y)
        r, t = self.rotation, self.translation
        pc = [r[i, 0] * X + r[i, 1] * Y - r[i, 2] * z + t[i] for i in range(3)]
        return np.stack([pc[0] / pc[2], pc[1] / pc[2]], axis=-1)

    def _distort(self, xn: np.ndarray) -> np.ndarray:
        r2 = (xn ** 2).sum(-1, keepdims=True)
        return xn * (1.0 + self.k1 * r2)

    def page_to_phone(self, points_xy) -> np.ndarray:
        pts = np.asarray(points_xy, dtype=np.float64)
        xd = self._distort(self._normalised(*self.page_px_to_mm(pts)))
        return xd * self.focal + np.asarray(self.center)

    def phone_to_final(self, pts: np.ndarray) -> np.ndarray:
        s = np.asarray(self.final_size, dtype=np.float64) / np.asarray(self.phone_size, dtype=np.float64)
        return (pts + 0.5) * s - 0.5

    def page_to_photo(self, points_xy) -> np.ndarray:
        """Page px (..., 2) -> delivered-photo px (..., 2), every geometric step composed."""
        return self.phone_to_final(self.page_to_phone(points_xy))

    # -- inverse, for rendering
    def phone_to_mm(self, pix: np.ndarray, iters: int = 6) -> tuple[np.ndarray, np.ndarray]:
        """Phone px (..., 2) -> the page point (X, Y) mm seen there (undistort, then ray vs. curl)."""
        xd = (pix - np.asarray(self.center)) / self.focal
        xu = xd.copy()
        for _ in range(iters):
            xu = xd / (1.0 + self.k1 * (xu ** 2).sum(-1, keepdims=True))
        r, t = self.rotation, self.translation
        hinv = np.linalg.inv(np.column_stack([r[:, 0], r[:, 1], t]))

        def plane(x):  # normalised image point -> (X, Y) on the flat page plane
            v = x[..., 0, None] * hinv[:, 0] + x[..., 1, None] * hinv[:, 1] + hinv[:, 2]
            return v[..., 0] / v[..., 2], v[..., 1] / v[..., 2]

        X0, Y0 = plane(xu)
        X, Y = X0.copy(), Y0.copy()
        if self.curl_mode != "none" and self.curl_lift > 0:
            for _ in range(iters):
                Xk, Yk = plane(self._normalised(X, Y))
                X, Y = X + (X0 - Xk), Y + (Y0 - Yk)
        return X, Y

    def px_per_mm(self) -> float:
        """Phone px per page mm at the page centre (for sizing fingers and pens)."""
        return float(self.focal / self.translation[2])


def _rot(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def _border_points(w: int, h: int, n: int = 24) -> np.ndarray:
    t = np.linspace(0, 1, n, endpoint=False)
    x0, y0, x1, y1 = -0.5, -0.5, w - 0.5, h - 0.5
    return np.concatenate([
        np.stack([x0 + t * (x1 - x0), np.full_like(t, y0)], 1),
        np.stack([np.full_like(t, x1), y0 + t * (y1 - y0)], 1),
        np.stack([x1 - t * (x1 - x0), np.full_like(t, y1)], 1),
        np.stack([np.full_like(t, x0), y1 - t * (y1 - y0)], 1),
    ])


def page_corners(w: int, h: int) -> np.ndarray:
    """The page's outer corners TL, TR, BR, BL in page px (pixel centres at integers)."""
    return np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])


def long_side_fraction(cam: PageCamera) -> float:
    """Mean length of the page's two long edges in the photo over the photo's long side."""
    w, h = cam.page_size
    c = cam.page_to_photo(page_corners(w, h))
    e = [np.linalg.norm(c[1] - c[0]), np.linalg.norm(c[2] - c[3])] if w >= h else \
        [np.linalg.norm(c[3] - c[0]), np.linalg.norm(c[2] - c[1])]
    return float(np.mean(e) / max(cam.final_size))


def outside_fraction(cam: PageCamera, n: int = 24) -> float:
    """Share of the page's area that fell outside the delivered frame."""
    w, h = cam.page_size
    gx, gy = np.meshgrid((np.arange(n) + 0.5) / n * w - 0.5, (np.arange(n) + 0.5) / n * h - 0.5)
    p = cam.page_to_photo(np.stack([gx, gy], -1).reshape(-1, 2))
    fw, fh = cam.final_size
    inside = (p[:, 0] >= -0.5) & (p[:, 0] <= fw - 0.5) & (p[:, 1] >= -0.5) & (p[:, 1] <= fh - 0.5)
    return float(1.0 - inside.mean())


def _fits(cam: PageCamera, margin: float) -> bool:
    p = cam.page_to_photo(_border_points(*cam.page_size))
    fw, fh = cam.final_size
    return bool(p[:, 0].min() >= margin and p[:, 1].min() >= margin and
                p[:, 0].max() <= fw - 1 - margin and p[:, 1].max() <= fh - 1 - margin)


def _with(cam: PageCamera, **kw) -> PageCamera:
    d = {k: getattr(cam, k) for k in cam.__dataclass_fields__}
    d.update(kw)
    return PageCamera(**d)


def sample_camera(page_shape: tuple[int, int], rng: np.random.Generator, difficulty: str = "ward",
                  cut_off: float = 0.0) -> tuple[PageCamera, dict]:
    """Draw the shot: frame orientation, roll, tilt, focal length, curl, lens, size and placement."""
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty must be one of {DIFFICULTIES}, not {difficulty!r}")
    ward = difficulty == "ward"
    h, w = page_shape[:2]
    page_mm = (PAGE_LONG_MM, PAGE_LONG_MM * h / w) if w >= h else (PAGE_LONG_MM * w / h, PAGE_LONG_MM)
    plong, pshort = PHONE_SIZES[int(rng.integers(len(PHONE_SIZES)))]
    portrait = bool(ward and rng.random() < 0.35)
    phone = (pshort, plong) if portrait else (plong, pshort)
    final = (round(FINAL_LONG * pshort / plong), FINAL_LONG) if portrait else \
        (FINAL_LONG, round(FINAL_LONG * pshort / plong))
    page_landscape = w >= h
    # Base rotation puts the page's long side along the frame's long side (a portrait shot of the
    # landscape page shows it turned by 90 degrees); sometimes upside down; sometimes any roll at all.
    if portrait == page_landscape:
        base = 90 if rng.random() < 0.5 else 270
    else:
        base = 180 if (ward and rng.random() < 0.12) else 0
    free_roll = bool(ward and rng.random() < 0.12)
    jitter = float(rng.uniform(0, 360)) if free_roll else \
        float(np.clip(rng.normal(0, 5.0 if ward else 1.2), -15 if ward else -3, 15 if ward else 3))
    roll = (base + jitter) % 360
    tilt = float(rng.uniform(5, 20) if ward else rng.uniform(0, 3))
    tilt_dir = float(rng.uniform(0, 180))
    focal = float(0.8 * plong * rng.uniform(0.9, 1.1))
    k1 = float(-rng.uniform(0.005, 0.06) if ward else -rng.uniform(0.0, 0.01))
    if ward and rng.random() < 0.7:
        curl_mode = str(rng.choice(["edge", "both", "ridge"], p=[0.5, 0.3, 0.2]))
        curl_lift = float(rng.uniform(2, 12))
    else:
        curl_mode, curl_lift = "none", 0.0
    curl_axis = int(rng.integers(2))
    curl_s0 = float(rng.uniform(0.3, 0.7))
    curl_flip = bool(rng.random() < 0.5)
    target = float(rng.uniform(0.47, 0.88) if ward else rng.uniform(0.80, 0.88))
    offc = float(rng.uniform(0, 0.9) if ward else rng.uniform(0, 0.3))
    shift_u = rng.uniform(-1, 1, 2)
    cut_dir = float(rng.uniform(0, 2 * np.pi))

    ta = np.deg2rad(tilt_dir)
    rot = _rot([np.cos(ta), np.sin(ta), 0.0], np.deg2rad(tilt)) @ _rot([0, 0, 1.0], np.deg2rad(roll))
    d0 = focal * page_mm[0 if page_landscape else 1] / (target * max(phone))
    cam = PageCamera(page_size=(w, h), page_mm=page_mm, rotation=rot, translation=np.array([0, 0, d0]),
                     focal=focal, center=((phone[0] - 1) / 2, (phone[1] - 1) / 2), k1=k1,
                     curl_mode=curl_mode, curl_axis=curl_axis, curl_lift=curl_lift, curl_s0=curl_s0,
                     curl_flip=curl_flip, phone_size=phone, final_size=final)
    for _ in range(4):  # hit the target size as measured in the photo (perspective, lens, curl)
        cam = _with(cam, translation=cam.translation * np.array([1, 1, long_side_fraction(cam) / target]))
    margin = 0.01 * FINAL_LONG
    for _ in range(40):  # a rolled or tilted page may not fit at that size: step back a little
        if _fits(cam, margin):
            break
        cam = _with(cam, translation=cam.translation * np.array([1, 1, 1.03]))
    # Off-centre: move the page (in 3-D) by a share of the slack on each side.
    p = cam.page_to_photo(_border_points(w, h))
    fw, fh = final
    lo, hi = p.min(0) - margin, np.array([fw - 1, fh - 1]) - margin - p.max(0)
    shift_px = np.where(shift_u < 0, shift_u * np.maximum(lo, 0), shift_u * np.maximum(hi, 0)) * offc
    scale3d = cam.translation[2] / (focal * final[0] / phone[0])
    for _ in range(8):
        moved = _with(cam, translation=cam.translation + np.r_[shift_px * scale3d, 0.0])
        if _fits(moved, margin):
            cam = moved
            break
        shift_px = shift_px * 0.6
    if cut_off > 0:  # push the page out of the frame until that share of it is outside
        direction = np.r_[np.cos(cut_dir), np.sin(cut_dir), 0.0]
        lo_m, hi_m = 0.0, 3.0 * max(page_mm)
        base_t = cam.translation.copy()
        for _ in range(30):
            mid = (lo_m + hi_m) / 2
            if outside_fraction(_with(cam, translation=base_t + direction * mid)) < cut_off:
                lo_m = mid
            else:
                hi_m = mid
        cam = _with(cam, translation=base_t + direction * hi_m)
    params = {
        "difficulty": difficulty, "frame": "portrait" if portrait else "landscape",
        "phone_size": list(phone), "final_size": list(final), "base_rotation_deg": base,
        "upside_down": base == 180, "free_roll": free_roll, "roll_deg": roll, "tilt_deg": tilt,
        "tilt_axis_deg": tilt_dir, "focal_px": focal, "focal_35mm_equiv_mm": 36.0 * focal / plong,
        "distance_mm": float(cam.translation[2]), "k1": k1, "curl_mode": curl_mode,
        "curl_axis": "x" if curl_axis == 0 else "y", "curl_lift_mm": curl_lift,
        "curl_s0": curl_s0, "curl_flip": curl_flip, "target_fraction": target,
        "long_side_fraction": long_side_fraction(cam), "off_centre": offc, "cut_off": float(cut_off),
        "outside_fraction": outside_fraction(cam),
    }
    return cam, params


# ----------------------------------------------------------------------------------- backgrounds


def _noise(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Smooth ~N(0,1) field with features about `cell` px across."""
    cell = max(float(cell), 1.0)
    gh, gw = int(h / cell) + 4, int(w / cell) + 4
    g = rng.standard_normal((gh, gw)).astype(np.float32)
    big = cv2.resize(g, (int(round(gw * cell)), int(round(gh * cell))), interpolation=cv2.INTER_CUBIC)
    o = int(cell)
    out = big[o:o + h, o:o + w]
    return out / (float(out.std()) + 1e-6)


def _fractal(rng, h, w, cell, octaves=3):
    out = np.zeros((h, w), np.float32)
    amp = 1.0
    for _ in range(octaves):
        out += amp * _noise(rng, h, w, cell)
        cell, amp = max(cell / 2.0, 2.0), amp * 0.5
    return out / 1.5


def _coords(h, w, angle):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c, s = np.cos(angle), np.sin(angle)
    return xx * c + yy * s, -xx * s + yy * c  # along, across


def _folds(rng, h, w, n, strength, width):
    """Soft fabric folds: a lit slope and a shaded slope along a few gently curving lines."""
    out = np.zeros((h, w), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    warp = _noise(rng, h, w, max(h, w) / 2.5) * width * 0.8
    for _ in range(n):
        a = rng.uniform(0, np.pi)
        px, py = rng.uniform(0, w), rng.uniform(0, h)
        d = ((xx - px) * -np.sin(a) + (yy - py) * np.cos(a) + warp) / (width * rng.uniform(0.6, 1.6))
        out += rng.uniform(0.4, 1.0) * strength * d * np.exp(-d * d)
    return out


def _wood(rng, h, w, tone):
    along, across = _coords(h, w, rng.uniform(0, np.pi))
    warp = _noise(rng, h, w, 90) * rng.uniform(4, 12) + _noise(rng, h, w, 400) * 25
    prof_n = int(across.max() - across.min()) + 64
    fine = cv2.GaussianBlur(rng.standard_normal((prof_n, 1)).astype(np.float32), (1, 0), 1.2).ravel()
    coarse = cv2.GaussianBlur(rng.standard_normal((prof_n, 1)).astype(np.float32), (1, 0), 6).ravel()
    idx = np.clip((across - across.min() + warp + 32).astype(np.int32), 0, prof_n - 1)
    rings = np.sin(2 * np.pi * (across + warp * 2) / rng.uniform(8, 22))
    plank = rng.uniform(150, 380)
    pid = np.floor((across - across.min()) / plank).astype(np.int32)
    plank_tone = rng.uniform(-0.08, 0.08, pid.max() + 1).astype(np.float32)[pid]
    seam = np.abs(((across - across.min()) % plank) - plank / 2) > plank / 2 - 1.2
    v = 1 + 0.06 * fine[idx] / fine.std() + 0.10 * coarse[idx] / coarse.std() + 0.05 * rings + plank_tone
    v = v * np.where(seam, 0.55, 1.0) * (1 + 0.03 * _noise(rng, h, w, 8))
    return v[..., None] * tone


def _background(kind: str, rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, dict]:
    """Float32 RGB in 0..1 at (h, w)."""
    info: dict = {"kind": kind}
    if kind == "wood":
        tone = np.array([rng.uniform(0.55, 0.85), rng.uniform(0.38, 0.6), rng.uniform(0.22, 0.38)])
        tone = tone * rng.uniform(0.45, 1.0)
        img = _wood(rng, h, w, tone.astype(np.float32))
        info["tone"] = tone.round(3).tolist()
    elif kind == "laminate":
        base = rng.uniform(0.55, 0.85)
        tone = np.array([base, base * rng.uniform(0.93, 1.0), base * rng.uniform(0.82, 1.0)], np.float32)
        img = _wood(rng, h, w, tone) * 0.25 + tone * 0.75
        img = img * (1 + 0.04 * rng.standard_normal((h, w, 1)).astype(np.float32) * 0.5)
        info["tone"] = tone.round(3).tolist()
    elif kind == "dark_desk":
        base = rng.uniform(0.06, 0.2)
        tone = np.array([base, base * rng.uniform(0.9, 1.05), base * rng.uniform(0.85, 1.15)], np.float32)
        img = tone * (1 + 0.12 * _fractal(rng, h, w, 120))[..., None]
        info["tone"] = tone.round(3).tolist()
    elif kind == "cloth":
        tone = rng.uniform(0.15, 0.75, 3).astype(np.float32)
        along, across = _coords(h, w, rng.uniform(0, np.pi))
        p = rng.uniform(3, 6)
        weave = np.sin(2 * np.pi * along / p) * np.sin(2 * np.pi * across / p)
        thread = _noise(rng, h, w, 2.5)
        v = 1 + 0.08 * weave + 0.05 * thread + _folds(rng, h, w, int(rng.integers(1, 4)), 0.25, 60)
        img = v[..., None] * tone
        info["tone"] = tone.round(3).tolist()
    elif kind == "bed_sheet":
        base = rng.uniform(0.82, 0.97)
        tint = rng.choice([np.array([1.0, 1.0, 1.0]), np.array([0.97, 0.98, 1.0]), np.array([1.0, 0.98, 0.94])])
        tone = (base * tint).astype(np.float32)
        along, across = _coords(h, w, rng.uniform(0, np.pi))
        weave = np.sin(2 * np.pi * along / 2.6) * np.sin(2 * np.pi * across / 2.6)
        v = 1 + 0.012 * weave + 0.01 * _noise(rng, h, w, 1.5)
        v += _folds(rng, h, w, int(rng.integers(4, 10)), rng.uniform(0.1, 0.22), rng.uniform(12, 45))
        v += 0.03 * _noise(rng, h, w, 300)
        img = v[..., None] * tone
        info["tone"] = tone.round(3).tolist()
    elif kind == "blanket":
        tone = np.array([0.30, 0.48, 0.72]) if rng.random() < 0.6 else np.array([0.32, 0.56, 0.46])
        tone = (tone * rng.uniform(0.7, 1.15) + rng.uniform(-0.04, 0.04, 3)).astype(np.float32)
        along, across = _coords(h, w, rng.uniform(0, np.pi))
        p = rng.uniform(7, 13)
        cell = ((0.5 + 0.5 * np.cos(2 * np.pi * along / p)) * (0.5 + 0.5 * np.cos(2 * np.pi * across / p))) ** 3
        v = 1 - 0.35 * cell + 0.06 * _noise(rng, h, w, 2) + \
            _folds(rng, h, w, int(rng.integers(2, 6)), 0.35, rng.uniform(40, 110))
        img = v[..., None] * tone
        info["tone"] = tone.round(3).tolist()
    else:
        raise ValueError(kind)
    # colour noise: slow hue wander across the surface
    img = img * (1 + 0.012 * np.stack([_noise(rng, h, w, 300) for _ in range(3)], -1))
    return np.clip(img, 0, 1.2).astype(np.float32), info


# ---------------------------------------------------------------------------------------- render


@dataclass(frozen=True)
class Photo:
    """A rendered phone photo as the messenger delivers it, with its ground truth."""

    jpeg: bytes
    corners: np.ndarray  # (4, 2) TL, TR, BR, BL of the printed page, final-photo px
    params: dict
    camera: PageCamera = field(repr=False)

    def page_to_photo(self, points_xy) -> np.ndarray:
        """Page px (..., 2) -> final-photo px (..., 2); curl, pose, lens and resizes composed."""
        return self.camera.page_to_photo(points_xy)

    def image(self) -> np.ndarray:
        """The delivered photo decoded, RGB uint8."""
        return decode(self.jpeg)


def decode(jpeg: bytes) -> np.ndarray:
    bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _encode(rgb_u8: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb_u8, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    assert ok
    return buf.tobytes()


def _upsample(coarse: np.ndarray, w: int, h: int) -> np.ndarray:
    """Bilinear upsampling of a field sampled at phone px (i*_STEP, j*_STEP), corner-aligned."""
    mx = (np.arange(w, dtype=np.float32) / _STEP)[None, :].repeat(h, 0)
    my = (np.arange(h, dtype=np.float32) / _STEP)[:, None].repeat(w, 1)
    return cv2.remap(coarse.astype(np.float32), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _capsule(h, w, a, b, r_fn, scale=2):
    """Alpha (soft) and cylinder shading of a rounded bar from a to b with radius r_fn(s_px), at 1/scale."""
    hs, ws = (h + scale - 1) // scale, (w + scale - 1) // scale
    yy, xx = np.mgrid[0:hs, 0:ws].astype(np.float32)
    xx, yy = (xx + 0.5) * scale - 0.5, (yy + 0.5) * scale - 0.5
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    L = float(np.linalg.norm(b - a))
    u = (b - a) / max(L, 1e-6)
    s = (xx - a[0]) * u[0] + (yy - a[1]) * u[1]
    d = np.abs(-(xx - a[0]) * u[1] + (yy - a[1]) * u[0])
    sc = np.clip(s, 0, L)
    r = r_fn(sc)
    dist = np.sqrt((s - sc) ** 2 + d ** 2)  # distance to the axis segment (rounded ends)
    alpha = np.clip((r - dist) / 1.5 + 0.5, 0, 1)
    shade = np.sqrt(np.clip(1 - (dist / np.maximum(r, 1)) ** 2, 0, 1))
    side = (-(xx - a[0]) * u[1] + (yy - a[1]) * u[0]) / np.maximum(r, 1)
    alpha = cv2.resize(alpha, (ws * scale, hs * scale))[:h, :w]
    shade = cv2.resize(shade, (ws * scale, hs * scale))[:h, :w]
    side = cv2.resize(side.astype(np.float32), (ws * scale, hs * scale))[:h, :w]
    return alpha, shade, side


def _occluder(img, kind, rng, cam, pw_page, ph_page):
    """Draw a finger or a pen over the page margin (in place on float RGB at phone res)."""
    h, w = img.shape[:2]
    ppm = cam.px_per_mm()
    edge = int(rng.integers(4))
    t = rng.uniform(0.1, 0.9)
    inset_mm = rng.uniform(2, 25) if kind == "finger" else rng.uniform(-10, 20)
    inset = inset_mm / cam.page_mm[0] * pw_page
    pts = {0: [(t * pw_page, inset), (t * pw_page, -1000)], 1: [(pw_page - inset, t * ph_page), (pw_page + 1000, t * ph_page)],
           2: [(t * pw_page, ph_page - inset), (t * pw_page, ph_page + 1000)], 3: [(inset, t * ph_page), (-1000, t * ph_page)]}[edge]
    tip, out = cam.page_to_phone(np.array(pts[0])), cam.page_to_phone(np.array(pts[1]))
    d = (out - tip) / np.linalg.norm(out - tip)
    ang = rng.uniform(-0.5, 0.5)
    d = np.array([d[0] * np.cos(ang) - d[1] * np.sin(ang), d[0] * np.sin(ang) + d[1] * np.cos(ang)])
    info = {"kind": kind, "page_edge": ["top", "right", "bottom", "left"][edge], "inset_mm": float(inset_mm)}
    if kind == "finger":
        r0 = rng.uniform(7.5, 10) * ppm
        def r_fn(s):
            return r0 * (1 + np.clip(s / (80 * ppm), 0, 1) * 0.25)
        a, b = tip, tip + d * 3 * max(h, w)
        skin = np.array([rng.uniform(0.45, 0.95), 0, 0])
        skin[1], skin[2] = skin[0] * rng.uniform(0.68, 0.8), skin[0] * rng.uniform(0.55, 0.7)
        colour, blur = skin.astype(np.float32), rng.uniform(1.0, 3.0)
        info["skin"] = skin.round(3).tolist()
    else:
        r0 = rng.uniform(4, 5.5) * ppm
        L = rng.uniform(130, 150) * ppm
        pang = rng.uniform(0, np.pi)
        u = np.array([np.cos(pang), np.sin(pang)])
        centre = tip + u * rng.uniform(-0.3, 0.3) * L
        a, b = centre - u * L / 2, centre + u * L / 2
        def r_fn(s):
            return np.full_like(s, r0)
        colour = np.array([[0.05, 0.05, 0.06], [0.08, 0.1, 0.28], [0.1, 0.22, 0.65]][int(rng.integers(3))], np.float32)
        blur = rng.uniform(0.5, 1.5)
    alpha, shade, side = _capsule(h, w, a, b, r_fn)
    # its shadow on the paper / desk, then the object itself (a little out of focus: it is nearer)
    off = rng.uniform(0.15, 0.5) * r0 * np.array([np.cos(rng.uniform(0, 2 * np.pi)), np.sin(rng.uniform(0, 2 * np.pi))])
    m = np.float32([[1, 0, off[0]], [0, 1, off[1]]])
    sh = cv2.GaussianBlur(cv2.warpAffine(alpha, m, (w, h)), (0, 0), max(1.0, 0.4 * r0))
    img *= (1 - rng.uniform(0.3, 0.55) * sh)[..., None]
    look = colour * (0.45 + 0.55 * shade)[..., None]
    spec = np.exp(-((side + 0.35) / 0.18) ** 2) * (0.12 if kind == "finger" else 0.5)
    look = look + spec[..., None]
    alpha = cv2.GaussianBlur(alpha, (0, 0), blur)
    look = cv2.GaussianBlur(look, (0, 0), blur)
    img[:] = img * (1 - alpha[..., None]) + look * alpha[..., None]
    return info


def _streams(seed: int) -> list[np.random.Generator]:
    """Independent streams (geometry, background, light, occluders, sensor): `clean` keeps the geometry."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(5)]


def sample_shot(page_shape: tuple[int, int], seed: int, *, difficulty: str = "ward",
                cut_off: float = 0.0) -> tuple[PageCamera, dict]:
    """The geometry `render_photo(page, seed, ...)` will use, without rendering (cheap)."""
    return sample_camera(page_shape[:2], _streams(seed)[0], difficulty, cut_off)


def render_photo(page: np.ndarray, seed: int, *, difficulty: str = "ward", cut_off: float = 0.0,
                 clean: bool = False) -> Photo:
    """Photograph `page` (H x W x 3 uint8 RGB) as a phone on a ward would, then send it.

    cut_off: share of the page area pushed out of the frame (0: the page is fully inside).
    clean: test-only; no occluders, hot spot, hand shadow, blur, noise or sharpening, and high JPEG
    qualities. The geometry and the background are the same as without it.
    """
    page = np.ascontiguousarray(page[..., :3])
    _, r_bg, r_light, r_occ, r_sens = _streams(seed)
    ward = difficulty == "ward"
    ph, pw = page.shape[:2]
    cam, params = sample_shot((ph, pw), seed, difficulty=difficulty, cut_off=cut_off)
    W, H = cam.phone_size

    # ---- where every phone pixel looks on the page (coarse solve, bilinear upsample)
    gx, gy = np.meshgrid(np.arange(0, W + _STEP, _STEP, dtype=np.float64),
                         np.arange(0, H + _STEP, _STEP, dtype=np.float64))
    Xc, Yc = cam.phone_to_mm(np.stack([gx, gy], -1))
    uv = cam.mm_to_page_px(Xc, Yc)
    # pre-shrink the printout to about the scale it is seen at (avoids aliasing the 1-px grid lines)
    k = float(min(1.0, 1.25 * cam.px_per_mm() * cam.page_mm[0] / pw))
    src = page if k >= 0.999 else cv2.resize(page, (max(8, round(pw * k)), max(8, round(ph * k))),
                                             interpolation=cv2.INTER_AREA)
    kx, ky = src.shape[1] / pw, src.shape[0] / ph
    full = _upsample(np.stack([(uv[..., 0] + 0.5) * kx - 0.5, (uv[..., 1] + 0.5) * ky - 0.5], -1), W, H)
    rgba = np.dstack([src, np.full(src.shape[:2], 255, np.uint8)])
    warped = cv2.remap(rgba, full[..., 0], full[..., 1], cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    alpha = warped[..., 3:].astype(np.float32) / 255.0

    # ---- paper: not perfectly white, a faint fibre texture
    paper = np.array([1.0, rng_u(r_light, 0.98, 1.0), rng_u(r_light, 0.95, 1.0)], np.float32) * rng_u(r_light, 0.9, 1.0)
    fibre = 1 + 0.015 * _noise(r_light, H, W, 3)[..., None]
    page_rgb = warped[..., :3].astype(np.float32) / 255.0 * paper * fibre  # premultiplied by alpha

    # ---- background, with the sheet's soft drop shadow
    kind = str(r_bg.choice(BACKGROUNDS)) if ward else str(r_bg.choice(["wood", "laminate", "dark_desk"]))
    bh, bw = (H + 1) // 2, (W + 1) // 2
    bg, bg_info = _background(kind, r_bg, bh, bw)
    bg = cv2.resize(bg, (W, H), interpolation=cv2.INTER_LINEAR)
    a_half = cv2.resize(alpha[..., 0], (bw, bh), interpolation=cv2.INTER_AREA)
    sh_off = r_light.uniform(1, 6, 2) * r_light.choice([-1, 1], 2)
    sh_blur, sh_str = r_light.uniform(1.5, 6), r_light.uniform(0.2, 0.5)
    shadow = cv2.GaussianBlur(cv2.warpAffine(a_half, np.float32([[1, 0, sh_off[0]], [0, 1, sh_off[1]]]), (bw, bh)),
                              (0, 0), sh_blur)
    bg *= (1 - sh_str * cv2.resize(shadow, (W, H)))[..., None]
    img = page_rgb + (1 - alpha) * bg
    params["background"] = bg_info
    params["drop_shadow"] = {"offset_px": (sh_off * 2).round(2).tolist(), "blur_px": float(sh_blur * 2),
                             "strength": float(sh_str)}

    # ---- occluders
    params["occluders"] = []
    if ward and not clean:
        if r_occ.random() < 0.3:
            params["occluders"].append(_occluder(img, "finger", r_occ, cam, pw, ph))
        if r_occ.random() < 0.25:
            params["occluders"].append(_occluder(img, "pen", r_occ, cam, pw, ph))

    # ---- light: one smooth multiplicative field on the coarse grid, plus the lamp's hot spot
    gh_, gw_ = gx.shape
    nx, ny = gx / W - 0.5, gy / H - 0.5
    g = r_light.uniform(-0.35, 0.35, 2) if ward else r_light.uniform(-0.1, 0.1, 2)
    light = 1 + g[0] * nx + g[1] * ny + (0.05 if ward else 0.02) * _noise(r_light, gh_, gw_, 60)
    inside = (uv[..., 0] > -0.5) & (uv[..., 0] < pw - 0.5) & (uv[..., 1] > -0.5) & (uv[..., 1] < ph - 0.5)
    if cam.curl_mode != "none":  # a bent sheet is brighter where it faces the lamp
        curl_gain = r_light.uniform(0.6, 1.6) * r_light.choice([-1, 1])
        light *= 1 + np.where(inside, curl_gain * cam.slope(Xc, Yc), 0.0)
    vig = r_light.uniform(0.15, 0.45) if ward else r_light.uniform(0.05, 0.15)
    r2 = (nx ** 2 + (ny * H / W) ** 2) / 0.3125
    light = light / (1 + vig * r2) ** 2
    exposure = r_light.uniform(0.85, 1.08)
    light3 = np.repeat((light * exposure)[..., None], 3, -1)
    params["light"] = {"gradient": g.round(3).tolist(), "vignetting": float(vig), "exposure": float(exposure)}
    if ward and not clean and r_light.random() < 0.5:  # the hand / phone shadow
        yy, xx = gy, gx
        # an elongated soft blob that comes in from the side of the frame the photographer stands at
        side = int(r_light.integers(4))
        t = r_light.uniform(0.2, 0.8)
        cxs, cys = [(t * W, 0), (W, t * H), (t * W, H), (0, t * H)][side]
        ang = [np.pi / 2, 0.0, np.pi / 2, 0.0][side] + r_light.uniform(-0.5, 0.5)
        ax, ay = r_light.uniform(0.25, 0.6) * max(W, H), r_light.uniform(0.12, 0.3) * max(W, H)
        dx, dy = xx - cxs, yy - cys
        e = ((dx * np.cos(ang) + dy * np.sin(ang)) / ax) ** 2 + ((-dx * np.sin(ang) + dy * np.cos(ang)) / ay) ** 2
        soft = r_light.uniform(0.3, 0.9)
        mask = 1 / (1 + np.exp((np.sqrt(e) - 1) / soft * 4))
        depth = r_light.uniform(0.15, 0.45)
        tint = np.array([1.0, 1.0, r_light.uniform(0.85, 1.0)])[::-1]  # shade is a little blue
        light3 *= (1 - depth * mask[..., None] * tint)
        params["light"]["hand_shadow"] = {"from": ["top", "right", "bottom", "left"][side],
                                          "centre_px": [float(cxs), float(cys)], "depth": float(depth),
                                          "softness": float(soft)}
    hot = None
    if ward and not clean and r_light.random() < 0.55:  # the lamp's specular hot spot
        c = cam.page_to_phone(np.array([r_light.uniform(0, pw), r_light.uniform(0, ph)])) \
            if r_light.random() < 0.7 else np.array([r_light.uniform(0, W), r_light.uniform(0, H)])
        sig = r_light.uniform(0.04, 0.15) * W
        amp = r_light.uniform(0.25, 0.9)
        hot = amp * np.exp(-((gx - c[0]) ** 2 + ((gy - c[1]) * r_light.uniform(0.6, 1.4)) ** 2) / (2 * sig ** 2))
        params["light"]["hot_spot"] = {"centre_px": c.round(1).tolist(), "sigma_px": float(sig), "amplitude": float(amp)}
    field_full = _upsample(light3, W, H)
    img *= field_full
    if hot is not None:
        img += _upsample(hot, W, H)[..., None] * np.array([1.0, 0.97, 0.9], np.float32)

    # ---- white balance cast
    cast_kind = str(r_light.choice(["neutral", "warm", "cool"], p=[0.4, 0.35, 0.25])) if ward else "neutral"
    amt = r_light.uniform(0.03, 0.12)
    wb = {"neutral": np.array([1, 1, 1]) + r_light.uniform(-0.02, 0.02, 3),
          "warm": np.array([1 + amt, 1, 1 - amt * 1.3]), "cool": np.array([1 - amt, 1, 1 + amt])}[cast_kind]
    img *= wb.astype(np.float32)
    params["white_balance"] = {"kind": cast_kind, "gains": wb.round(3).tolist()}
    np.clip(img, 0, 1, out=img)
    img **= np.float32(1 / r_light.uniform(0.9, 1.1))  # the phone's tone curve

    # ---- optics and sensor
    blur_p: dict = {}
    if not clean:
        sig = r_sens.uniform(0.3, 1.8) if ward else r_sens.uniform(0.2, 0.7)
        if r_sens.random() < 0.3:  # disc (defocus) kernel
            rad = max(1, int(round(sig * 1.5)))
            ker = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rad + 1, 2 * rad + 1)).astype(np.float32)
            img = cv2.filter2D(img, -1, ker / ker.sum())
            blur_p["defocus"] = {"disc_radius_px": rad}
        else:
            img = cv2.GaussianBlur(img, (0, 0), sig)
            blur_p["defocus"] = {"gauss_sigma_px": float(sig)}
        if ward and r_sens.random() < 0.35:  # hand shake
            ln = r_sens.uniform(2, 7)
            ang = r_sens.uniform(0, np.pi)
            ks = int(np.ceil(ln)) | 1
            ker = np.zeros((ks * 2 + 1, ks * 2 + 1), np.float32)
            c = ks
            p0 = (c - ln / 2 * np.cos(ang), c - ln / 2 * np.sin(ang))
            p1 = (c + ln / 2 * np.cos(ang), c + ln / 2 * np.sin(ang))
            cv2.line(ker, (int(p0[0] * 16), int(p0[1] * 16)), (int(p1[0] * 16), int(p1[1] * 16)), 1.0, 1,
                     cv2.LINE_AA, shift=4)
            img = cv2.filter2D(img, -1, ker / ker.sum())
            blur_p["motion"] = {"length_px": float(ln), "angle_deg": float(np.rad2deg(ang))}
        n0 = r_sens.uniform(0.006, 0.03) if ward else r_sens.uniform(0.002, 0.008)
        luma = img.mean(-1, keepdims=True)
        sigma = n0 * (0.4 + 1.2 * (1 - luma))  # noisier in the shadows
        img += sigma * r_sens.standard_normal((H, W, 1), dtype=np.float32)
        chroma = r_sens.standard_normal((bh, bw, 3), dtype=np.float32)
        img += sigma * 0.7 * cv2.resize(chroma, (W, H))
        amount = r_sens.uniform(0.2, 0.9)  # the phone's sharpening
        img = img + amount * (img - cv2.GaussianBlur(img, (0, 0), 1.2))
        blur_p["noise"] = float(n0)
        blur_p["sharpen"] = float(amount)
    params["sensor"] = blur_p
    phone_u8 = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)

    # ---- the phone's JPEG, the messenger's resize and JPEG
    q_phone = int(r_sens.integers(85, 96)) if not clean else 95
    q_msg = int(r_sens.integers(60, 86)) if not clean else 92
    phone_img = decode(_encode(phone_u8, q_phone))
    final = cv2.resize(phone_img, cam.final_size, interpolation=cv2.INTER_AREA)
    jpeg = _encode(final, q_msg)
    params["jpeg"] = {"phone_quality": q_phone, "messenger_quality": q_msg}
    params["seed"] = int(seed)
    params["clean"] = bool(clean)
    corners = cam.page_to_photo(page_corners(pw, ph))
    return Photo(jpeg=jpeg, corners=corners, params=params, camera=cam)


def rng_u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def render_batch(pages, seeds, *, difficulty: str = "ward", cut_off: float = 0.0) -> list[Photo]:
    """One photo per (page, seed); `pages` may be a single page used for every seed."""
    seeds = list(seeds)
    if isinstance(pages, np.ndarray) and pages.ndim == 3:
        pages = [pages] * len(seeds)
    return [render_photo(p, s, difficulty=difficulty, cut_off=cut_off) for p, s in zip(pages, seeds)]


def contact_sheet(pages, photos, *, cols: int = 4, cell: int = 480) -> np.ndarray:
    """A grid of the photos (ground-truth outline drawn, TL marked) with each page as a small inset.

    pages: one page or one per photo. Returns RGB uint8.
    """
    photos = list(photos)
    if isinstance(pages, np.ndarray) and pages.ndim == 3:
        pages = [pages] * len(photos)
    rows = (len(photos) + cols - 1) // cols
    sheet = np.full((rows * (cell + 24), cols * cell, 3), 255, np.uint8)
    for i, (pg, ph) in enumerate(zip(pages, photos)):
        img = ph.image()
        s = cell / max(img.shape[:2])
        small = cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
        c = (ph.corners + 0.5) * s - 0.5
        cv2.polylines(small, [np.round(c * 16).astype(np.int32)], True, (0, 255, 0), 1, cv2.LINE_AA, shift=4)
        cv2.circle(small, tuple(int(v) for v in np.round(c[0])), 5, (255, 0, 255), 2, cv2.LINE_AA)
        th = cv2.resize(pg, (cell // 5, round(cell // 5 * pg.shape[0] / pg.shape[1])), interpolation=cv2.INTER_AREA)
        small[2:2 + th.shape[0], 2:2 + th.shape[1]] = th
        r, q = divmod(i, cols)
        y0, x0 = r * (cell + 24), q * cell
        oy, ox = (cell - small.shape[0]) // 2, (cell - small.shape[1]) // 2
        sheet[y0 + oy:y0 + oy + small.shape[0], x0 + ox:x0 + ox + small.shape[1]] = small
        p = ph.params
        label = f"{p['seed']} {p['background']['kind']} {p['frame'][0]} r{p['roll_deg']:.0f} t{p['tilt_deg']:.0f} " \
                f"{p['curl_mode']}"
        cv2.putText(sheet, label, (x0 + 4, y0 + cell + 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return sheet
