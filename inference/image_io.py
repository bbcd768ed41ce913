"""Step 0 of reading a page: bytes -> an upright RGB picture, with the limits checked before decoding.

Only JPEG and PNG are opened (the content decides, not the file name); the size is checked from the
header right after `Image.open`, before any pixel is decoded, so a tiny file that claims 4 x 40 000
pixels costs nothing. Every refusal is an `ImageRejected` with a reason code the chat and the CLI
turn into words. `check_image` is that header check alone (the chat refuses an upload with it before
showing a preview or queueing anything); `preview_jpeg` makes the small picture shown back.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

FORMATS = ("JPEG", "PNG")
MAX_SIDE = 12_000  # px: a 48 MP phone photo is 8000 x 6000
MAX_PIXELS = 50_000_000
MAX_ASPECT = 3.0  # a page photographed at any angle stays within this; a strip of paper does not
MIN_SIDE = 400  # px of the shorter side below which nothing can be read
PREVIEW_SIDE = 1280  # px: the preview shown back in the chat (Telegram's own photo size)
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own bomb guard at our limit (a 20 MB JPEG needs no more)


class ImageRejected(ValueError):
    """The picture cannot be read as an ECG photo; `code` says why (see handlers/texts.py)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def check_image(data: bytes | str) -> tuple[int, int]:
    """(width, height) of JPEG/PNG bytes (or a path) whose header passes every limit; raise ImageRejected.
    Reads the header only: nothing is decoded, so a bomb costs nothing here."""
    with _open_checked(data) as img:
        return img.size


def load_image(data: bytes | str) -> np.ndarray:
    """Decode JPEG/PNG bytes (or a path) to an upright uint8 RGB array; raise ImageRejected."""
    with _open_checked(data) as img:
        try:
            img.load()
            img = ImageOps.exif_transpose(img)
            rgb = img.convert("RGB")
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise ImageRejected("not_image", f"the image data is damaged or truncated ({exc.__class__.__name__})") from exc
    return np.asarray(rgb)


def preview_jpeg(data: bytes, max_side: int = PREVIEW_SIDE) -> bytes:
    """A JPEG of the picture at most `max_side` px a side (upright), to show back what will be analysed;
    the limits are checked first (ImageRejected). A JPEG is decoded at a reduced scale (`draft`)."""
    with _open_checked(data) as img:
        try:
            img.draft("RGB", (max_side, max_side))  # JPEG only: decode at 1/2, 1/4 or 1/8 scale
            img = ImageOps.exif_transpose(img).convert("RGB")
            img.thumbnail((max_side, max_side))
            out = io.BytesIO()
            img.save(out, format="JPEG", quality=85)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise ImageRejected("not_image", f"the image data is damaged or truncated ({exc.__class__.__name__})") from exc
    return out.getvalue()


def _open_checked(data: bytes | str) -> Image.Image:
    """`Image.open` (JPEG/PNG only) and every limit checked from the header; the caller closes it."""
    try:
        img = Image.open(io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data, formats=FORMATS)
    except Image.DecompressionBombError as exc:  # Pillow's guard fires in open() past twice the limit
        raise ImageRejected("too_large", f"larger than {MAX_PIXELS // 1_000_000} MP ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected("not_image", f"not a JPEG or PNG image ({exc.__class__.__name__})") from exc
    except OSError as exc:
        raise ImageRejected("not_image", f"cannot open the file ({exc})") from exc
    try:
        w, h = img.size
        if max(w, h) > MAX_SIDE or w * h > MAX_PIXELS:
            raise ImageRejected("too_large", f"{w} x {h} px is larger than {MAX_SIDE} px a side / {MAX_PIXELS // 1_000_000} MP")
        if min(w, h) < MIN_SIDE:
            raise ImageRejected("too_small", f"{w} x {h} px is too small (the shorter side needs {MIN_SIDE} px)")
        if max(w, h) / min(w, h) > MAX_ASPECT:
            raise ImageRejected("bad_aspect", f"{w} x {h} px is not the shape of a page (aspect over {MAX_ASPECT:g})")
        if getattr(img, "is_animated", False) and getattr(img, "n_frames", 1) > 1:
            raise ImageRejected("animated", "an animated image")
        if img.mode in ("I;16", "I;16B", "I;16L", "I", "F") or "16" in img.mode:
            raise ImageRejected("deep_image", f"a {img.mode} image (16-bit or floating point)")
    except BaseException:
        img.close()
        raise
    return img
