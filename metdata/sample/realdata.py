"""The real images embedded in the package (downsampled by `pack_real_images`) and their catalog.

Read through importlib.resources so the sample museum works from an installed wheel, outside this
repository. `group` ties the several views of one artwork together; `hard_negative` marks other
versions of Met paintings that must not be matched to the Met object.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from PIL import Image

_DATA = "metdata.sample"


@dataclass(frozen=True)
class RealImage:
    file: str  # path inside the data folder, e.g. "art/met-10388-the-cup-of-tea.jpg"
    kind: str  # "art" or "noart"
    title: str
    artist: str
    date: str
    met_object_id: int | None
    group: str  # one value per artwork (its views share it)
    licence: str
    hard_negative: bool
    width: int  # of the embedded (downsampled) image
    height: int


def _data_root():
    return resources.files(_DATA).joinpath("data")


@lru_cache(maxsize=1)
def _catalog() -> tuple[RealImage, ...]:
    text = _data_root().joinpath("catalog.csv").read_text(encoding="utf-8")
    return tuple(
        RealImage(
            file=row["file"],
            kind=row["kind"],
            title=row["title"],
            artist=row["artist"],
            date=row["date"],
            met_object_id=int(row["met_object_id"]) if row["met_object_id"] else None,
            group=row["group"],
            licence=row["licence"],
            hard_negative=row["hard_negative"] == "1",
            width=int(row["width"]),
            height=int(row["height"]),
        )
        for row in csv.DictReader(io.StringIO(text))
    )


def load_catalog() -> list[RealImage]:
    """Every embedded image, sorted by file name."""
    return list(_catalog())


def load_bytes(file: str) -> bytes:
    """The embedded JPEG bytes of `file` (a `RealImage.file`)."""
    return _data_root().joinpath(file).read_bytes()


def load_image(file: str) -> Image.Image:
    """The embedded image `file` decoded as RGB."""
    return Image.open(io.BytesIO(load_bytes(file))).convert("RGB")
