"""Turn a studio image of an artwork into a plausible visitor's photo of it, deterministically.

Queries of the MET benchmark are phone photos taken in the galleries: the artwork hangs in a frame on
a coloured wall, seen at an angle, under uneven light with a colour cast, partly cut off or hidden by
other visitors, with glare on the varnish or glass, some blur and sensor noise. Each step below adds
one of these, so that recognition on the sample museum is a real (if small) test of a descriptor.
"""

from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

_WALLS = [(232, 226, 212), (196, 190, 180), (120, 36, 40), (40, 62, 92), (70, 88, 74), (245, 245, 242)]
_FRAMES = [(176, 140, 60), (92, 60, 36), (24, 22, 20), (210, 200, 180), (140, 110, 70)]


WORK_PX = 800  # the scene is composed at most this large (the embedded artworks are 640 px), then scaled


def visitor_photo(art: Image.Image, rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """A `size` (width, height) RGB photo of `art` as a museum visitor would take it, seeded by `rng`."""
    art = art.convert("RGB")
    scale = min(1.0, WORK_PX / max(size))
    work = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
    if rng.random() < 0.3:
        art = _partial_view(art, rng)
    framed = _add_frame(art, rng)
    photo = _hang_on_wall(framed, rng, work)
    photo = _add_clutter(photo, rng)
    photo = _relight(photo, rng)
    if rng.random() < 0.5:
        photo = _glare(photo, rng)
    photo = _blur(photo, rng)
    if photo.size != size:
        photo = photo.resize(size, Image.Resampling.BICUBIC)
    return _noise(photo, rng)


def _partial_view(art: Image.Image, rng: random.Random) -> Image.Image:
    """A detail: the visitor photographed only part of the artwork (55-90 % of each side)."""
    w, h = art.size
    cw, ch = int(w * rng.uniform(0.55, 0.9)), int(h * rng.uniform(0.55, 0.9))
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    return art.crop((x, y, x + cw, y + ch))


def _add_frame(art: Image.Image, rng: random.Random) -> Image.Image:
    """A frame with a lighter inner lip, 3-8 % of the artwork's longer side wide."""
    w, h = art.size
    border = max(2, int(max(w, h) * rng.uniform(0.03, 0.08)))
    colour = rng.choice(_FRAMES)
    framed = Image.new("RGB", (w + 2 * border, h + 2 * border), colour)
    lip = tuple(min(255, c + 40) for c in colour)
    ImageDraw.Draw(framed).rectangle(
        (border // 2, border // 2, w + border + border // 2, h + border + border // 2), outline=lip, width=2
    )
    framed.paste(art, (border, border))
    return framed


def _perspective_coeffs(dst: list[tuple[float, float]], src: list[tuple[float, float]]) -> list[float]:
    """Coefficients for Image.transform(PERSPECTIVE) mapping output points `dst` to input points `src`."""
    rows = []
    for (x, y), (u, v) in zip(dst, src):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    rhs = np.array(src, dtype=np.float64).reshape(8)
    return np.linalg.solve(np.array(rows, dtype=np.float64), rhs).tolist()


def _hang_on_wall(framed: Image.Image, rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """Place the framed artwork on a lit wall, seen at an angle (a random perspective quad)."""
    width, height = size
    top, bottom = rng.choice(_WALLS), rng.choice(_WALLS)
    wall = np.linspace(np.array(top, float), np.array(bottom, float) * 0.8, height)[:, None, :]
    photo = Image.fromarray(np.broadcast_to(wall, (height, width, 3)).astype(np.uint8))
    fw, fh = framed.size
    scale = rng.uniform(0.5, 0.88) * min(width / fw, height / fh)
    tw, th = fw * scale, fh * scale
    cx = width / 2 + rng.uniform(-0.15, 0.15) * (width - tw)
    cy = height / 2 + rng.uniform(-0.15, 0.15) * (height - th)
    jitter = 0.12 * min(tw, th)
    corners = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    dst = [(cx + sx * tw / 2 + rng.uniform(-jitter, jitter), cy + sy * th / 2 + rng.uniform(-jitter, jitter))
           for sx, sy in corners]
    src = [(0, 0), (fw, 0), (fw, fh), (0, fh)]
    coeffs = _perspective_coeffs(dst, src)
    warped = framed.transform(size, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR)
    mask = Image.new("L", framed.size, 255).transform(size, Image.Transform.PERSPECTIVE, coeffs)
    shadow = mask.filter(ImageFilter.GaussianBlur(max(2, width // 150)))
    photo.paste((0, 0, 0), (rng.randint(2, 8), rng.randint(2, 8)), Image.eval(shadow, lambda v: v // 3))
    photo.paste(warped, (0, 0), mask)
    return photo


def _add_clutter(photo: Image.Image, rng: random.Random) -> Image.Image:
    """A wall label, and sometimes other visitors' heads and shoulders in front of the artwork."""
    draw = ImageDraw.Draw(photo)
    w, h = photo.size
    lx, ly = int(w * rng.uniform(0.02, 0.85)), int(h * rng.uniform(0.6, 0.9))
    lw, lh = max(8, w // 14), max(6, h // 20)
    draw.rectangle((lx, ly, lx + lw, ly + lh), fill=(248, 246, 240))
    for i in range(3):
        y = ly + (i + 1) * lh // 4
        draw.line((lx + 3, y, lx + lw * rng.uniform(0.5, 0.9), y), fill=(90, 90, 90), width=1)
    for _ in range(rng.choice([0, 0, 1, 2, 3])):
        px, r = rng.uniform(0, w), rng.uniform(0.06, 0.14) * h
        colour = tuple(rng.randint(15, 90) for _ in range(3))
        base = h + r * rng.uniform(0.2, 1.2)
        draw.ellipse((px - 2.2 * r, base - 1.2 * r, px + 2.2 * r, base + 2 * r), fill=colour)  # shoulders
        draw.ellipse((px - 0.8 * r, base - 2.6 * r, px + 0.8 * r, base - 0.6 * r), fill=colour)  # head
    return photo


def _relight(photo: Image.Image, rng: random.Random) -> Image.Image:
    """Gallery lighting: a spotlight falloff, an overall exposure change and a white-balance cast."""
    a = np.asarray(photo, dtype=np.float32)
    h, w = a.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    sx, sy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.0, 0.5) * h
    dist = np.sqrt(((xx - sx) / w) ** 2 + ((yy - sy) / h) ** 2)
    falloff = 1.0 - rng.uniform(0.1, 0.45) * np.clip(dist, 0, 1.2)
    gains = np.array([rng.uniform(0.85, 1.15) for _ in range(3)], dtype=np.float32) * rng.uniform(0.7, 1.2)
    a = a * falloff[..., None] * gains
    gamma = rng.uniform(0.8, 1.25)
    a = 255.0 * np.clip(a / 255.0, 0, 1) ** gamma
    return Image.fromarray(a.astype(np.uint8))


def _glare(photo: Image.Image, rng: random.Random) -> Image.Image:
    """A soft reflection of a ceiling light on the glass or varnish."""
    w, h = photo.size
    glow = Image.new("L", photo.size, 0)
    gx, gy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.15, 0.6) * h
    rx, ry = rng.uniform(0.04, 0.15) * w, rng.uniform(0.02, 0.08) * h
    ImageDraw.Draw(glow).ellipse((gx - rx, gy - ry, gx + rx, gy + ry), fill=rng.randint(120, 220))
    glow = glow.filter(ImageFilter.GaussianBlur(max(3, int(min(rx, ry) / 2))))
    return Image.composite(Image.new("RGB", photo.size, (255, 255, 250)), photo, glow)


def _blur(photo: Image.Image, rng: random.Random) -> Image.Image:
    """Focus or hand-shake blur, scaled to the photo's size."""
    radius = rng.uniform(0.0, 1.2) * max(photo.size) / 1000
    return photo.filter(ImageFilter.GaussianBlur(radius)) if radius > 0.3 else photo


def _noise(photo: Image.Image, rng: random.Random) -> Image.Image:
    """Sensor noise of a phone camera in a dim room, at full resolution (uint8 arithmetic keeps it cheap)."""
    noise_rng = np.random.default_rng(rng.getrandbits(32))
    spread = rng.randint(3, 12)
    a = np.asarray(photo, dtype=np.int16) + noise_rng.integers(-spread, spread + 1, (photo.height, photo.width, 1),
                                                              dtype=np.int16)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
