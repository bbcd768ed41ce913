"""Image processing as Telegram does it for photos: a PhotoSize ladder of re-encoded JPEGs."""

from __future__ import annotations

from io import BytesIO

PHOTO_LIMITS = (90, 320, 800, 1280)


class ImageError(ValueError):
    pass


def photo_sizes(data: bytes) -> list[tuple[int, int, bytes]]:
    """``[(width, height, jpeg_bytes), ...]`` smallest first; the longest side of each is at most
    90, 320, 800 and 1280 px (sizes that would repeat a smaller one are skipped)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        img = Image.open(BytesIO(data))
        img = ImageOps.exif_transpose(img)
        img.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(str(exc)) from exc
    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img, mask=img.split()[-1])
        img = background
    elif img.mode != "RGB":
        img = img.convert("RGB")
    width, height = img.size
    if width < 1 or height < 1 or width + height > 10000 or max(width, height) > 20 * min(width, height):
        raise ImageError("PHOTO_INVALID_DIMENSIONS")
    sizes: list[tuple[int, int, bytes]] = []
    seen: set[tuple[int, int]] = set()
    source = img
    for limit in sorted(PHOTO_LIMITS, reverse=True):  # each size is scaled down from the previous one
        scale = min(1.0, limit / max(width, height))
        w, h = max(1, round(width * scale)), max(1, round(height * scale))
        if (w, h) in seen:
            continue
        seen.add((w, h))
        if (w, h) != source.size:
            source = source.resize((w, h), Image.LANCZOS)
        buf = BytesIO()
        source.save(buf, "JPEG", quality=87)
        sizes.append((w, h, buf.getvalue()))
    sizes.reverse()
    return sizes


def sticker_webp() -> bytes:
    from PIL import Image

    buf = BytesIO()
    Image.new("RGBA", (64, 64), (255, 200, 0, 255)).save(buf, "WEBP")
    return buf.getvalue()
