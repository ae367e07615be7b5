"""Studio views of the sample museum's exhibits, and the broken files a real image host serves.

A view is a pure description (which artwork, which part of it, mirrored or hung in a gallery), rendered
at any size on demand, so the world builds instantly and a benchmark can ask for 3000-px originals.
Procedural artworks are drawn in fractional coordinates, so every crop and size stays sharp and every
seed gives a visibly different picture. Variants turn a view's JPEG into the near duplicates and the
broken answers (truncated, corrupt, PNG, an HTML page) that the crawler must cope with.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from metdata.sample.realdata import load_image

Box = tuple[float, float, float, float]  # left, top, right, bottom as fractions of the artwork
FULL: Box = (0.0, 0.0, 1.0, 1.0)
STYLES = ("shapes", "stripes", "rings", "grid", "waves")


@dataclass(frozen=True)
class Artwork:
    """What a view shows: an embedded real image (`file`) or a procedural picture (`seed`, `style`)."""

    aspect: float  # width / height of the whole artwork
    file: str | None = None
    seed: int = 0
    style: str = "shapes"


@dataclass(frozen=True)
class View:
    """One studio photograph of an artwork."""

    art: Artwork
    box: Box = FULL  # the part photographed (a detail when smaller than FULL)
    mirrored: bool = False  # the verso / a mirrored reproduction
    installation: bool = False  # the artwork small on a gallery wall, in a frame
    fixed_size: tuple[int, int] | None = None  # always this size, whatever rendition (tiny images)

    @property
    def aspect(self) -> float:
        if self.fixed_size:
            return self.fixed_size[0] / self.fixed_size[1]
        left, top, right, bottom = self.box
        return self.art.aspect * (right - left) / (bottom - top)

    def size(self, long_side: int) -> tuple[int, int]:
        """Pixel size of this view with `long_side` pixels on its longer side."""
        if self.fixed_size:
            return self.fixed_size
        a = self.aspect
        if a >= 1:
            return long_side, max(1, round(long_side / a))
        return max(1, round(long_side * a)), long_side


def render_view(view: View, long_side: int) -> Image.Image:
    """The view as an RGB image with `long_side` pixels on its longer side."""
    width, height = view.size(long_side)
    if view.installation:
        image = _installation(view.art, width, height)
    else:
        image = _draw_art(view.art, view.box, width, height)
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if view.mirrored else image


def encode_jpeg(image: Image.Image, quality: int = 88) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


# Variants: how the served bytes derive from the view's JPEG. Near duplicates decode to almost the
# same picture; the broken ones must fail to decode (or, for "png", decode although mislabelled).
VARIANTS = ("jpeg", "reencoded", "resized", "png", "truncated", "corrupt", "html")
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>The Met</title></head>"
    b"<body><h1>Image temporarily unavailable</h1></body></html>"
)


def render_bytes(view: View, long_side: int, variant: str = "jpeg") -> bytes:
    """The bytes an image URL serves for `view` at `long_side`, transformed by `variant`."""
    if variant == "html":
        return HTML_PAGE
    image = render_view(view, long_side)
    if variant == "reencoded":  # the same photo saved again at a much lower quality
        return encode_jpeg(Image.open(io.BytesIO(encode_jpeg(image))), quality=45)
    if variant == "resized":  # the same photo published smaller
        return encode_jpeg(image.resize((max(1, image.width * 3 // 5), max(1, image.height * 3 // 5))))
    if variant == "png":
        out = io.BytesIO()
        image.save(out, "PNG")
        return out.getvalue()
    data = encode_jpeg(image)
    if variant == "truncated":
        return data[: len(data) // 3]
    if variant == "corrupt":
        return scramble(data)
    return data


def scramble(data: bytes) -> bytes:
    """Keep the JPEG start marker but garble every later byte, so no decoder can read it."""
    body = np.frombuffer(data[2:], dtype=np.uint8) ^ np.uint8(0x5A)
    return data[:2] + body.tobytes()


def _installation(art: Artwork, width: int, height: int) -> Image.Image:
    """The artwork in a dark frame on a warm gallery wall above a wooden floor."""
    wall = Image.new("RGB", (width, height), (214, 206, 190))
    draw = ImageDraw.Draw(wall)
    draw.rectangle((0, int(height * 0.86), width, height), fill=(120, 84, 52))
    scale = 0.6 * min(width / max(art.aspect, 1e-6), height)  # artwork height in pixels
    art_h = max(1, int(min(scale, height * 0.6)))
    art_w = max(1, int(min(art_h * art.aspect, width * 0.6)))
    border = max(2, int(0.04 * max(art_w, art_h)))
    left = (width - art_w) // 2
    top = max(border, int(height * 0.4) - art_h // 2)
    draw.rectangle((left - border, top - border, left + art_w + border, top + art_h + border), fill=(40, 30, 24))
    wall.paste(_draw_art(art, FULL, art_w, art_h), (left, top))
    return wall


def _draw_art(art: Artwork, box: Box, width: int, height: int) -> Image.Image:
    if art.file is not None:
        return _real_crop(art.file, box, width, height)
    return _procedural(art, box, width, height)


@lru_cache(maxsize=16)
def _real_source(file: str) -> Image.Image:
    return load_image(file)


def _real_crop(file: str, box: Box, width: int, height: int) -> Image.Image:
    source = _real_source(file)
    sw, sh = source.size
    left, top, right, bottom = box
    region = (left * sw, top * sh, right * sw, bottom * sh)
    return source.resize((width, height), Image.Resampling.BICUBIC, box=region)


def _palette(rng: random.Random, n: int) -> list[tuple[int, int, int]]:
    base = rng.random()
    colours = []
    for i in range(n):
        hue = (base + i * rng.uniform(0.12, 0.4)) % 1.0
        colours.append(_hsv(hue, rng.uniform(0.35, 1.0), rng.uniform(0.25, 1.0)))
    return colours


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    r, g, b = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return int(r * 255), int(g * 255), int(b * 255)


def _procedural(art: Artwork, box: Box, width: int, height: int) -> Image.Image:
    """Draw the part `box` of procedural artwork `art` at `width` x `height` pixels.

    Coordinates are fractions of the whole artwork (u across, v down), so the same seed gives the same
    picture at every size and crop. A style sets the background; random shapes on top give every
    artwork and every detail of it its own structure (which keeps their perceptual hashes apart).
    """
    rng = random.Random(art.seed)
    colours = _palette(rng, 6)
    left, top, right, bottom = box
    u = left + (np.arange(width, dtype=np.float32) + 0.5) / width * (right - left)
    v = top + (np.arange(height, dtype=np.float32) + 0.5) / height * (bottom - top)
    uu, vv = np.meshgrid(u, v)
    t = _background_field(art.style, rng, uu * art.aspect, vv)
    c0, c1 = np.array(colours[0], np.float32), np.array(colours[1], np.float32)
    pixels = c0 + (c1 - c0) * t[..., None]
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    full_w, full_h = width / (right - left), height / (bottom - top)

    def px(x: float, y: float) -> tuple[float, float]:
        return (x - left) * full_w, (y - top) * full_h

    for _ in range(rng.randint(14, 26)):
        colour = rng.choice(colours[2:]) if rng.random() < 0.8 else rng.choice(colours[:2])
        cx, cy = rng.random(), rng.random()
        rx, ry = rng.uniform(0.04, 0.22), rng.uniform(0.04, 0.22) * art.aspect
        shape = rng.choice(("ellipse", "rect", "poly", "bar"))
        x0, y0 = px(cx - rx, cy - ry)
        x1, y1 = px(cx + rx, cy + ry)
        if shape == "ellipse":
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif shape == "rect":
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        elif shape == "bar":
            draw.line((x0, y0, x1, y1), fill=colour, width=max(1, int(0.02 * max(full_w, full_h))))
        else:
            points = []
            for k in range(rng.randint(3, 6)):
                angle = 2 * math.pi * k / 6 + rng.uniform(-0.4, 0.4)
                points.append(px(cx + rx * math.cos(angle), cy + ry * math.sin(angle)))
            draw.polygon(points, fill=colour)
    return image


def _background_field(style: str, rng: random.Random, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A value in [0, 1] per pixel; x runs over the artwork's width in units of its height."""
    angle = rng.uniform(0, math.pi)
    freq = rng.uniform(2.0, 7.0)
    phase = rng.uniform(0, 2 * math.pi)
    along = x * math.cos(angle) + y * math.sin(angle)
    if style == "stripes":
        return (np.sin(along * freq * 2 * math.pi + phase) > 0).astype(np.float32)
    if style == "rings":
        cx, cy = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8)
        r = np.hypot(x - cx, y - cy)
        return 0.5 + 0.5 * np.sin(r * freq * 2 * math.pi + phase)
    if style == "grid":
        cells = rng.randint(3, 9)
        table = np.array([rng.random() for _ in range(64 * 64)], np.float32).reshape(64, 64)
        ix = np.clip((x * cells).astype(np.int64), 0, 63)
        iy = np.clip((y * cells).astype(np.int64), 0, 63)
        return table[iy, ix]
    if style == "waves":
        across = -x * math.sin(angle) + y * math.cos(angle)
        return 0.5 + 0.25 * np.sin(along * freq * 6 + phase) + 0.25 * np.sin(across * freq * 4)
    return np.clip(along / 1.5 + 0.3, 0, 1)  # "shapes": a soft gradient behind the shapes
