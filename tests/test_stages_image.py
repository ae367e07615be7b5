"""process_image: every drop reason, size rules, colour modes, orientation and hashing."""

from __future__ import annotations

import hashlib
import io
import warnings

import imagehash
import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from metdata.stages import image as image_stage
from metdata.stages.image import HASH_ALGO, process_image


def encode(image: Image.Image, fmt: str = "JPEG", **save_kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **save_kwargs)
    return out.getvalue()


def textured(width: int, height: int, seed: int = 0) -> Image.Image:
    """A smooth random picture (phash needs structure, not a flat colour)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)


def decoded(jpeg: bytes) -> Image.Image:
    return Image.open(io.BytesIO(jpeg))


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def test_large_jpeg_is_downsampled_and_hashed():
    data = encode(textured(3000, 2250))
    result = process_image(data)
    assert result.status == "kept" and result.error is None
    assert (result.orig_width, result.orig_height) == (3000, 2250)
    assert (result.width, result.height) == (500, 375)
    assert decoded(result.jpeg).size == (500, 375)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert len(result.phash) == 16 and int(result.phash, 16) >= 0
    assert hamming(result.phash, str(imagehash.phash(decoded(result.jpeg)))) <= 4  # stored image's hash


def test_reduced_scale_decode_matches_full_decode():
    source = textured(2400, 1600, seed=3)
    result = process_image(encode(source, quality=95))
    full = source.resize((500, 333), Image.Resampling.LANCZOS)
    diff = np.abs(np.asarray(decoded(result.jpeg), dtype=int) - np.asarray(full, dtype=int))
    assert diff.mean() < 3.0
    assert hamming(result.phash, str(imagehash.phash(full))) <= 2


def test_draft_mode_is_used_for_jpeg(monkeypatch):
    requested = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        requested.append(size)
        scale = original(self, mode, size)
        requested.append(self.size)
        return scale

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    process_image(encode(textured(2000, 1000)))
    assert requested == [(500, 250), (500, 250)]  # decoded at 1/4 scale, not at 2000x1000


def test_small_image_is_never_upscaled():
    result = process_image(encode(textured(300, 200)))
    assert result.status == "kept"
    assert (result.width, result.height) == (300, 200) == (result.orig_width, result.orig_height)


@pytest.mark.parametrize(
    ("size", "status"),
    [((63, 400), "too_small"), ((64, 200), "kept"), ((2001, 500), "aspect_ratio"), ((2000, 500), "kept")],
)
def test_header_rules(size, status):
    result = process_image(encode(textured(*size)), min_side_px=64, max_aspect_ratio=4.0)
    assert result.status == status
    assert (result.orig_width, result.orig_height) == size
    if status != "kept":
        assert result.jpeg is None and result.phash is None and str(size[0]) in result.error


def test_corrupt_and_truncated_and_non_image_are_decode_errors():
    data = encode(textured(800, 600))
    truncated = process_image(data[: len(data) // 2])
    assert truncated.status == "decode_error" and truncated.orig_width == 800
    assert process_image(b"<html>not an image</html>").status == "decode_error"
    corrupt = data[:200] + bytes(len(data) - 200)
    assert process_image(corrupt).status == "decode_error"
    assert process_image(b"").sha256 == hashlib.sha256(b"").hexdigest()


def test_decompression_bomb_is_too_large(monkeypatch):
    data = encode(textured(400, 300))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100 * 100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        result = process_image(data)  # 12x the limit: Pillow itself refuses
    assert result.status == "too_large" and "decompression" in result.error.lower()
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 400 * 300 - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        result = process_image(data)  # just over: only a warning from Pillow, refused by our header check
    assert result.status == "too_large" and (result.orig_width, result.orig_height) == (400, 300)


def test_exif_orientation_is_applied():
    portrait = textured(600, 1000)
    stored_landscape = portrait.transpose(Image.Transpose.ROTATE_90)  # what the camera wrote
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    result = process_image(encode(stored_landscape, exif=exif))
    assert result.status == "kept"
    assert (result.orig_width, result.orig_height) == (600, 1000)
    assert (result.width, result.height) == (300, 500)
    diff = np.abs(np.asarray(decoded(result.jpeg), dtype=int)
                  - np.asarray(portrait.resize((300, 500)), dtype=int))
    assert diff.mean() < 8


def test_alpha_is_composited_on_white():
    rgba = Image.new("RGBA", (200, 100), (255, 0, 0, 255))
    rgba.paste((0, 0, 0, 0), (100, 0, 200, 100))  # right half fully transparent (and black)
    result = process_image(encode(rgba, "PNG"))
    pixels = np.asarray(decoded(result.jpeg))
    assert pixels[50, 150].min() > 240  # white, not black
    assert pixels[50, 50, 0] > 240 and pixels[50, 50, 1] < 20


def test_palette_with_transparency_and_cmyk_and_grey_become_rgb():
    palette = Image.new("P", (120, 120), 0)
    palette.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    palette.paste(1, (0, 0, 60, 120))
    palette_result = process_image(encode(palette, "PNG", transparency=0))
    pixels = np.asarray(decoded(palette_result.jpeg))
    assert pixels[60, 100].min() > 240 and pixels[60, 20, 1] > 200

    cmyk = Image.new("CMYK", (120, 90), (0, 255, 255, 0))  # red in CMYK
    cmyk_pixels = np.asarray(decoded(process_image(encode(cmyk)).jpeg))
    assert cmyk_pixels[45, 60, 0] > 200 and cmyk_pixels[45, 60, 2] < 60

    grey = process_image(encode(Image.new("L", (120, 90), 128)))
    assert decoded(grey.jpeg).mode == "RGB"

    deep = Image.fromarray(np.full((90, 120), 40000, dtype=np.uint16))
    deep_pixels = np.asarray(decoded(process_image(encode(deep, "PNG")).jpeg))
    assert 145 < deep_pixels[45, 60, 0] < 165  # 40000 / 256, not clipped to 255


def test_near_duplicates_share_a_close_phash():
    source = textured(1600, 1200, seed=7)
    a = process_image(encode(source, quality=95))
    b = process_image(encode(source.resize((1000, 750)), quality=70))
    c = process_image(encode(textured(1600, 1200, seed=8)))
    assert hamming(a.phash, b.phash) <= 4
    assert hamming(a.phash, c.phash) > 10
    assert a.sha256 != b.sha256


def test_hash_algo_names_the_installed_versions():
    from importlib.metadata import version  # the installed distributions, not the modules' own attributes

    assert HASH_ALGO == f"imagehash-{version('imagehash')}/phash8/pillow-{version('pillow')}"
    assert image_stage.DEFAULT_MAX_SIDE_PX == 500  # the MET release's longest side
