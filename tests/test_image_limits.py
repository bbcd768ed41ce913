"""Input limits before decoding (inference.image_io): bombs, shapes, formats that are not JPEG/PNG
whatever the name, animated and 16-bit images — each refused with its reason code, and the process's
peak memory unchanged by any of them (measured in a fresh interpreter)."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inference.image_io import MAX_PIXELS, ImageRejected, check_image, load_image, preview_jpeg

ROOT = Path(__file__).resolve().parents[1]


def png_claiming(width: int, height: int, mode: int = 2) -> bytes:
    """A PNG of a few dozen bytes whose header claims `width` x `height` (8-bit, colour type `mode`)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, mode, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real JPEG whose SOF header is rewritten to claim `width` x `height`."""
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), "white").save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def encoded(fmt: str, size=(1600, 1200), **kw) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, "white").save(buf, fmt, **kw)
    return buf.getvalue()


def apng() -> bytes:
    buf = io.BytesIO()
    frames = [Image.new("RGB", (800, 600), c) for c in ("white", "black")]
    frames[0].save(buf, "PNG", save_all=True, append_images=frames[1:])
    return buf.getvalue()


def png16() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((600, 800), 40_000, np.uint16)).save(buf, "PNG")
    return buf.getvalue()


CASES = {  # name: (bytes, expected reason code)
    "aspect bomb 4 x 40 000": (lambda: png_claiming(40_000, 4), ("bad_aspect", "too_large")),
    "pixel bomb 11 000 x 11 000": (lambda: png_claiming(11_000, 11_000), ("too_large",)),
    "decompression bomb 60 000 x 60 000": (lambda: png_claiming(60_000, 60_000), ("too_large",)),
    "JPEG claiming 65 000 x 65 000": (lambda: jpeg_claiming(65_000, 65_000), ("too_large",)),
    "JPEG claiming 12 000 x 2 000": (lambda: jpeg_claiming(12_000, 2_000), ("bad_aspect",)),
    "TIFF named .jpg": (lambda: encoded("TIFF"), ("not_image",)),
    "GIF named .png": (lambda: encoded("GIF"), ("not_image",)),
    "BMP named .jpg": (lambda: encoded("BMP"), ("not_image",)),
    "WEBP named .jpg": (lambda: encoded("WEBP"), ("not_image",)),
    "animated PNG": (apng, ("animated",)),
    "16-bit PNG": (png16, ("deep_image",)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_refused_before_decoding(name):
    make, codes = CASES[name]
    data = make()
    for check in (check_image, load_image, preview_jpeg):
        with pytest.raises(ImageRejected) as exc:
            check(data)
        assert exc.value.code in codes, (check.__name__, exc.value.code, exc.value.detail)


def test_the_bombs_are_tiny_and_claim_huge_pictures():
    for w, h in ((40_000, 4), (60_000, 60_000)):
        data = png_claiming(w, h)
        assert len(data) < 100
        Image.MAX_IMAGE_PIXELS = None  # Pillow unguarded: it would believe the header
        try:
            assert Image.open(io.BytesIO(data)).size == (w, h)
        finally:
            Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def test_a_good_picture_passes_and_its_preview_is_small():
    data = encoded("JPEG", (4000, 3000))
    assert check_image(data) == (4000, 3000)
    preview = Image.open(io.BytesIO(preview_jpeg(data)))
    assert preview.format == "JPEG" and max(preview.size) == 1280


def test_peak_memory_unchanged_by_any_refusal(tmp_path):
    """Each refused file is opened in a fresh interpreter after a warm-up with a good picture; the peak
    RSS (ru_maxrss) may not grow by more than a few MB (the 60 000 x 60 000 bomb would need 10 GB)."""
    paths = []
    for i, (make, _) in enumerate(CASES.values()):
        path = tmp_path / f"case{i}.bin"
        path.write_bytes(make())
        paths.append(str(path))
    warm = tmp_path / "warm.jpg"
    warm.write_bytes(encoded("JPEG", (800, 600)))
    script = f"""
import json, resource, sys
from inference.image_io import ImageRejected, check_image, load_image, preview_jpeg
load_image({str(warm)!r}); preview_jpeg(open({str(warm)!r}, 'rb').read())
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
codes = []
for path in {paths!r}:
    data = open(path, 'rb').read()
    for check in (check_image, load_image, preview_jpeg):
        try:
            check(data)
            codes.append(None)
        except ImageRejected as exc:
            codes.append(exc.code)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"grew_kb": after - before, "codes": codes}}))
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert None not in result["codes"]
    assert result["grew_kb"] < 8 * 1024, result
