"""Turn downloaded bytes into a stored exhibit: validate, downsample, hash. One image in, one result out.

Decoding dominates the cost on large originals, so the checks that need only the header (pixel-count
guard, minimum side, aspect ratio) run before any pixel is decoded, and JPEGs decode at a reduced DCT
scale (Pillow draft mode) no smaller than the target size: a 3000 px original destined for 500 px decodes
at 1/4 scale. The perceptual hash is computed on the downsampled image, which is what gets stored.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import imagehash
import PIL
from PIL import Image, ImageOps

HASH_ALGO = f"imagehash-{imagehash.__version__}/phash8/pillow-{PIL.__version__}"
"""Perceptual hashes drift across imagehash and Pillow versions: store this next to every phash."""

DEFAULT_MAX_SIDE_PX = 500  # the MET release's longest side
DEFAULT_MIN_SIDE_PX = 64  # below this a studio photo carries too little detail to recognise or hash
DEFAULT_MAX_ASPECT_RATIO = 4.0  # long scrolls, friezes and textile strips: unusable at 500 px
DEFAULT_JPEG_QUALITY = 90

_BACKGROUND = (255, 255, 255)  # transparent areas are composited onto white, as a studio backdrop
_ROTATING_ORIENTATIONS = {5, 6, 7, 8}  # EXIF orientations that swap width and height


@dataclass
class ImageResult:
    status: str  # "kept" or a drop reason from manifests.STATUSES
    sha256: str  # of the source bytes, always set
    jpeg: bytes | None = None  # the stored image, only when kept
    width: int | None = None  # stored size
    height: int | None = None
    orig_width: int | None = None  # source size in display orientation, when the header was readable
    orig_height: int | None = None
    phash: str | None = None  # 16 hex digits, of the stored image
    error: str | None = None


@dataclass(frozen=True)
class ImageSpec:
    """How every stored image is shaped, whatever its source; each source's parameters extend it."""

    max_side_px: int = DEFAULT_MAX_SIDE_PX
    min_side_px: int = DEFAULT_MIN_SIDE_PX
    max_aspect_ratio: float = DEFAULT_MAX_ASPECT_RATIO
    jpeg_quality: int = DEFAULT_JPEG_QUALITY

    def process(self, data: bytes) -> ImageResult:
        """`process_image` with these parameters."""
        return process_image(data, max_side_px=self.max_side_px, min_side_px=self.min_side_px,
                             max_aspect_ratio=self.max_aspect_ratio, jpeg_quality=self.jpeg_quality)


def process_image(
    data: bytes,
    *,
    max_side_px: int = DEFAULT_MAX_SIDE_PX,
    min_side_px: int = DEFAULT_MIN_SIDE_PX,
    max_aspect_ratio: float = DEFAULT_MAX_ASPECT_RATIO,
    jpeg_quality: int = DEFAULT_JPEG_QUALITY,
) -> ImageResult:
    """Validate and downsample one image so that its longest side is at most `max_side_px` (never upscaled).

    Drop reasons: too_large (Pillow's decompression-bomb guard), too_small (shorter side below
    `min_side_px` before resizing), aspect_ratio (longer/shorter side above `max_aspect_ratio`),
    decode_error (not an image, truncated or corrupt).
    """
    sha256 = hashlib.sha256(data).hexdigest()
    sizes: dict[str, int] = {}
    try:
        with Image.open(io.BytesIO(data)) as image:
            orientation = _orientation(image)
            rotated = orientation in _ROTATING_ORIENTATIONS
            orig_w, orig_h = image.size[::-1] if rotated else image.size
            sizes = {"orig_width": orig_w, "orig_height": orig_h}
            rejection = _header_rejection(orig_w, orig_h, min_side_px, max_aspect_ratio)
            if rejection is not None:
                return ImageResult(rejection[0], sha256, error=rejection[1], **sizes)
            target = _target_size(orig_w, orig_h, max_side_px)
            image.draft("RGB", target[::-1] if rotated else target)  # JPEG/MPO only; a no-op otherwise
            image.load()
            rgb = _to_rgb(ImageOps.exif_transpose(image) if orientation != 1 else image)
            if rgb.size != target:
                # non-JPEG sources (no draft mode) get a cheap integer reduce first when far above target
                rgb = rgb.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    except Image.DecompressionBombError as exc:
        return ImageResult("too_large", sha256, error=str(exc), **sizes)
    except (OSError, SyntaxError, ValueError) as exc:  # UnidentifiedImageError is an OSError
        return ImageResult("decode_error", sha256, error=f"{type(exc).__name__}: {exc}", **sizes)
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=jpeg_quality)
    return ImageResult(
        "kept", sha256, jpeg=out.getvalue(), width=target[0], height=target[1],
        phash=str(imagehash.phash(rgb)), **sizes,
    )


def _header_rejection(
    width: int, height: int, min_side_px: int, max_aspect_ratio: float
) -> tuple[str, str] | None:
    """(status, error) for what the header alone rules out, so rejected images are never decoded."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit and width * height > limit:
        return "too_large", f"{width}x{height} px exceeds Pillow's decompression-bomb limit of {limit} px"
    if min(width, height) < min_side_px:
        return "too_small", f"{width}x{height} px: shorter side below {min_side_px} px"
    ratio = max(width, height) / min(width, height)
    if ratio > max_aspect_ratio:
        return "aspect_ratio", f"{width}x{height} px: aspect ratio {ratio:.2f} above {max_aspect_ratio:g}"
    return None


def _target_size(width: int, height: int, max_side_px: int) -> tuple[int, int]:
    scale = min(1.0, max_side_px / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112, 1))
    except (ValueError, TypeError, OSError, SyntaxError):
        return 1


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB on a white background from any mode (alpha, palette with transparency, CMYK, grey, 16-bit)."""
    if image.mode == "RGB":
        return image
    if image.mode.startswith("I;16"):  # 16-bit grey: keep the top byte rather than clipping at 255
        image = image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if not has_alpha:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, _BACKGROUND + (255,))
    return Image.alpha_composite(background, rgba).convert("RGB")
