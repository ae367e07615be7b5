"""Pack the real images shipped with the sample museum: downsample and write `data/` plus `catalog.csv`.

The repository's real images (public-domain artworks, Met objects with their ids, non-art photos) are
too large to ship; the sample museum needs only enough pixels for recognition to mean something.
Run once, by hand, when the source set changes:

    python -m metdata.sample.pack_real_images /work/shared/data/real
"""

from __future__ import annotations

import csv
import io
import re
import sys
from pathlib import Path

from PIL import Image, ImageOps

MAX_SIDE_PX = 640
JPEG_QUALITY = 82
CATALOG_FIELDS = [
    "file", "kind", "title", "artist", "date", "met_object_id", "licence", "source", "group", "hard_negative",
    "width", "height",
]
# The two deliberate hard negatives of the source set (other versions of Met paintings, not the Met's).
HARD_NEGATIVES = {
    "art/van-gogh-wheat-field-with-cypresses-national-gallery.jpg",
    "art/van-gogh-self-portrait-straw-hat-other-version.jpg",
}
_VIEW_SUFFIX = re.compile(r"-v\d+$")


def view_group(file: str) -> str:
    """Files `x.jpg`, `x-v2.jpg`, `x-v3.jpg` (or `x-v1.jpg`, ...) show one artwork: group them as `x`."""
    return _VIEW_SUFFIX.sub("", Path(file).stem)


def downsample(data: bytes) -> tuple[bytes, int, int]:
    """JPEG bytes at most MAX_SIDE_PX on the long side, and their width and height."""
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    image.thumbnail((MAX_SIDE_PX, MAX_SIDE_PX), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue(), image.width, image.height


def pack(source_dir: Path, out_dir: Path) -> list[dict]:
    with open(source_dir / "SOURCES.csv", encoding="utf-8", newline="") as f:
        sources = list(csv.DictReader(f))
    rows = []
    for src in sources:
        target = out_dir / src["file"]
        target.parent.mkdir(parents=True, exist_ok=True)
        data, width, height = downsample((source_dir / src["file"]).read_bytes())
        target.write_bytes(data)
        rows.append({
            "file": src["file"],
            "kind": src["kind"],
            "title": src["title"],
            "artist": src["artist"],
            "date": src["date"],
            "met_object_id": src["met_object_id"],
            "licence": src["licence"],
            "source": src["source_repository"],
            "group": view_group(src["file"]),
            "hard_negative": "1" if src["file"] in HARD_NEGATIVES else "0",
            "width": width,
            "height": height,
        })
    rows.sort(key=lambda r: r["file"])
    with open(out_dir / "catalog.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CATALOG_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m metdata.sample.pack_real_images SOURCE_DIR", file=sys.stderr)
        return 2
    rows = pack(Path(argv[0]), Path(__file__).with_name("data"))
    print(f"packed {len(rows)} images")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
