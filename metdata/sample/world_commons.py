"""The sample museum's Wikimedia Commons: categories of art and non-art files with real licence metadata.

Built from the embedded real images: the public-domain artworks the Met does not hold (with their
several views and the hard negatives), the non-art photographs, copies of sample Met exhibits as the
real Commons hosts them (credit line or description naming the Met, and one re-hosted copy whose
metadata says nothing, so that only the perceptual hash can catch it), and files that must never be
kept: CC BY-SA, "No restrictions", "pd" still marked copyrighted, and a non-free fair-use file.
The extmetadata uses the value sets recorded from the live API (source_apis.md C.5).
"""

from __future__ import annotations

import hashlib
import io
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from metdata.sample import realdata
from metdata.sample.commons_names import file_name, original_path
from metdata.sample.model import CommonsCategory, CommonsFile, MetObject
from metdata.sample.realdata import RealImage


@dataclass(frozen=True)
class Licence:
    values: dict  # extmetadata values exactly as the live API returns them (C.5)
    free: bool  # ground truth: may be kept as a public-domain distractor


PD = Licence({"License": "pd", "LicenseShortName": "Public domain", "UsageTerms": "Public domain",
              "Copyrighted": "False", "AttributionRequired": "false", "Restrictions": ""}, True)
CC0 = Licence({"License": "cc0", "LicenseShortName": "CC0",
               "UsageTerms": "Creative Commons Zero, Public Domain Dedication",
               "LicenseUrl": "http://creativecommons.org/publicdomain/zero/1.0/deed.en", "Copyrighted": "True",
               "AttributionRequired": "false", "Restrictions": ""}, True)
CC_BY_SA = Licence({"License": "cc-by-sa-4.0", "LicenseShortName": "CC BY-SA 4.0",
                    "UsageTerms": "Creative Commons Attribution-Share Alike 4.0",
                    "LicenseUrl": "https://creativecommons.org/licenses/by-sa/4.0", "Copyrighted": "True",
                    "AttributionRequired": "true"}, False)
NO_RESTRICTIONS = Licence({"LicenseShortName": "No restrictions", "UsageTerms": "No known copyright restrictions",
                           "Copyrighted": "True", "AttributionRequired": "false"}, False)
PD_STILL_COPYRIGHTED = Licence({**PD.values, "Copyrighted": "True", "Restrictions": "trademarked"}, False)
FAIR_USE = Licence({"LicenseShortName": "Fair use", "UsageTerms": "Fair use", "NonFree": "true",
                    "Copyrighted": "True"}, False)

_SOURCES = {"DateTime": "mediawiki-metadata", "Categories": "commons-categories", "Assessments": "commons-categories",
            "License": "commons-templates", "CommonsMetadataExtension": "extension"}
_VISIBLE = {"ObjectName", "ImageDescription", "DateTimeOriginal", "Artist"}
_CAT_SUFFIX = re.compile(r"\s*\((exact title|version|attribution|etching|folding screen|later|a differen)[^)]*\)")

VAN_GOGH = "Paintings by Vincent van Gogh"
STARRY = "The Starry Night"
UKIYO_E = "Ukiyo-e prints"
GREAT_WAVE = "The Great Wave off Kanagawa"
PD_ART = "PD-Art (PD-old-100)"
KODAK = "Kodak test images"
SAILBOATS = "Kodak test images of sailboats"
CATS = "Photographs of cats"
NASA = "Photographs by NASA"
SKIMAGE = "Scikit-image sample images"
EMPTY = "Paintings by Anonymous Masters of Nowhere"  # exists, holds nothing

# Which category each non-Met artwork group and non-art file sits in; the rest of the art goes to PD_ART.
_ART_CATEGORY = {"starry-night": STARRY, "great-wave": GREAT_WAVE, "sakai-hoitsu-cherry-blossoms-screen": UKIYO_E}
_NOART_CATEGORY = {"skimage-chelsea": CATS, "skimage-astronaut": NASA, "skimage-hubble-deep-field": NASA,
                   "skimage-rocket": NASA, "skimage-camera": SKIMAGE, "skimage-coffee": SKIMAGE,
                   "kodim06": SAILBOATS, "kodim09": SAILBOATS, "kodim10": SAILBOATS, "kodim11": SAILBOATS}
# Files that must be dropped by the licence filter (group -> licence), and the free CC0 ones.
_LICENCE = {"picabia-udnie": CC_BY_SA, "kodim05": CC_BY_SA, "kodim20": NO_RESTRICTIONS, "leger-contrast-of-forms":
            PD_STILL_COPYRIGHTED, "skimage-camera": CC0, "skimage-coffee": CC0, "skimage-rocket": CC0}

Renderers = dict[str, Callable[[], bytes]]


def build_commons(
    rng: random.Random, objects: dict[int, MetObject], catalog: list[RealImage]
) -> tuple[dict[int, CommonsFile], dict[str, CommonsCategory], Renderers]:
    """Files keyed by page id, categories keyed by name, and the upload host's renderers."""
    builder = _Builder(rng)
    for cat in (VAN_GOGH, STARRY, UKIYO_E, GREAT_WAVE, PD_ART, KODAK, SAILBOATS, CATS, NASA, SKIMAGE, EMPTY):
        builder.categories[cat] = CommonsCategory(cat)
    builder.link(VAN_GOGH, STARRY)
    builder.link(STARRY, VAN_GOGH)  # Commons categories form cycles
    builder.link(UKIYO_E, GREAT_WAVE)
    builder.link(KODAK, SAILBOATS)

    views: dict[str, int] = {}
    for image in catalog:
        if image.met_object_id is not None:
            continue
        n = views[image.group] = views.get(image.group, 0) + 1
        if image.kind == "art":
            category = _ART_CATEGORY.get(image.group) or (VAN_GOGH if "Gogh" in image.artist else PD_ART)
        else:
            category = _NOART_CATEGORY.get(image.group, KODAK)
        licence = _LICENCE.get(image.group, PD) if n == 1 else PD
        builder.add_real(image, category, licence, view=n)
    _add_met_copies(builder, objects, catalog)
    chelsea = next(i for i in catalog if i.group == "skimage-chelsea")
    builder.add(
        "File:Chelsea the cat (film still).jpg", CATS, "noart", FAIR_USE, _crop(realdata.load_bytes(chelsea.file)),
        artist=None, credit="Screenshot", description="A still from a film, used under fair use.",
    )
    return builder.files, builder.categories, builder.renderers


def _add_met_copies(builder: _Builder, objects: dict[int, MetObject], catalog: list[RealImage]) -> None:
    """Commons hosts many Met Open Access images: three credited to the Met, one re-hosted anonymously."""
    primaries = [
        image for image in catalog
        if image.met_object_id in objects and not re.search(r"-v\d+\.jpg$", image.file)
        and objects[image.met_object_id].record.get("isPublicDomain")
        and objects[image.met_object_id].record.get("primaryImage")
    ]
    primaries.sort(key=lambda image: ("Gogh" not in image.artist, image.met_object_id))
    for how, image in zip(("credit", "description", "credit"), primaries[:3]):
        record = objects[image.met_object_id].record
        url = f"https://www.metmuseum.org/art/collection/search/{image.met_object_id}"
        credit = f'<a rel="nofollow" class="external free" href="{url}">{url}</a>'
        description = _clean(image.title)
        if how == "description":
            credit = '<span class="int-own-work" lang="en">Own work</span>'
            description += ", The Metropolitan Museum of Art, New York (accession " + record["accessionNumber"] + ")"
        category = VAN_GOGH if "Gogh" in image.artist else PD_ART
        title = f"File:{_clean(image.artist)} - {_clean(image.title)} - MET {record['accessionNumber']}.jpg"
        builder.add(title, category, "art", CC0 if how == "description" else PD, realdata.load_bytes(image.file),
                    artist=image.artist, credit=credit, description=description, met_object_id=image.met_object_id,
                    categories="Metropolitan Museum of Art|PD-Art (PD-old-100-expired)")
    if len(primaries) > 3:
        image = primaries[3]
        builder.add(
            f"File:Old painting {builder.rng.randrange(1000, 9999)}.jpg", PD_ART, "art", PD,
            _reencode(realdata.load_bytes(image.file)), artist=None,
            credit='<span class="int-own-work" lang="en">Own work</span>', description="Scan of an old painting",
            met_object_id=image.met_object_id,
        )


class _Builder:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.files: dict[int, CommonsFile] = {}
        self.categories: dict[str, CommonsCategory] = {}
        self.renderers: Renderers = {}
        self._next_pageid = 100_000_001

    def link(self, parent: str, child: str) -> None:
        self.categories[parent].subcategories.append(child)

    def add_real(self, image: RealImage, category: str, licence: Licence, view: int) -> None:
        suffix = f" ({view})" if view > 1 else ""
        if image.kind == "art":
            title = f"File:{_clean(image.artist)} - {_clean(image.title)}{suffix}.jpg"
            credit = '<a rel="nofollow" class="external text" href="https://artsandculture.google.com/">' \
                     "Google Arts &amp; Culture</a>"
            if image.hard_negative:
                credit = "National Gallery, London" if "Wheat" in image.title else "Van Gogh Museum, Amsterdam"
        else:
            title = f"File:{_clean(image.title)}{suffix}.jpg"
            credit = '<span class="int-own-work" lang="en">Own work</span>'
        artist = None if image.artist.startswith("NASA") else _clean(image.artist)
        self.add(title, category, image.kind, licence, realdata.load_bytes(image.file), artist=artist,
                 credit=credit, description=_clean(image.title), date=image.date)

    def add(self, title: str, category: str, kind: str, licence: Licence, data: bytes, *, artist: str | None,
            credit: str, description: str, date: str = "", met_object_id: int | None = None,
            categories: str = "") -> None:
        pageid = self._next_pageid
        self._next_pageid += 1
        name = file_name(title)
        path = original_path(name)
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
        day = 1 + pageid % 28
        timestamp = f"20{12 + pageid % 13:02d}-{1 + pageid % 12:02d}-{day:02d}T{pageid % 24:02d}:14:07Z"
        values = {"DateTime": timestamp.replace("T", " ").rstrip("Z"), "ObjectName": title[5:-4],
                  "CommonsMetadataExtension": 1.2, "Categories": categories or category, "Assessments": "",
                  "ImageDescription": description, "Credit": credit}
        if date:
            values["DateTimeOriginal"] = date
        if artist:
            values["Artist"] = (f'<bdi><a href="https://en.wikipedia.org/wiki/{artist.replace(" ", "_")}" '
                                f'class="extiw" title="w:en:{artist}">{artist}</a></bdi>')
        values.update(licence.values)
        self.files[pageid] = CommonsFile(
            pageid=pageid, title=title, category=category, kind=kind, extmetadata=extmetadata_entries(values),
            width=width, height=height, image_path=path, sha1=hashlib.sha1(data).hexdigest(), timestamp=timestamp,
            met_object_id=met_object_id, is_free=licence.free,
        )
        self.categories[category].files.append(pageid)
        self.renderers[path] = lambda data=data: data


def extmetadata_entries(values: dict) -> dict:
    """{key: {"value": ..., "source": ..., "hidden": ""}} as the API nests each value."""
    out = {}
    for key, value in values.items():
        entry = {"value": value, "source": _SOURCES.get(key, "commons-desc-page")}
        if key not in _VISIBLE:
            entry["hidden"] = ""
        out[key] = entry
    return out


def _clean(text: str) -> str:
    """Catalog titles without their editorial notes ("(exact title unverified)"); safe in a file name."""
    text = _CAT_SUFFIX.sub("", text).replace("/", "-").replace(":", " -").replace('"', "")
    return re.sub(r"\s+", " ", text).strip()


def _reencode(data: bytes) -> bytes:
    """A re-hosted copy: slightly smaller and recompressed, so neither bytes nor sha1 match the original."""
    with Image.open(io.BytesIO(data)) as image:
        image = image.convert("RGB")
        smaller = image.resize((image.width * 9 // 10, image.height * 9 // 10), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    smaller.save(out, "JPEG", quality=80)
    return out.getvalue()


def _crop(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        w, h = image.size
        cropped = image.convert("RGB").crop((w // 8, h // 8, w - w // 8, h - h // 8))
    out = io.BytesIO()
    cropped.save(out, "JPEG", quality=85)
    return out.getvalue()
