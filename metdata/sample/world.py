"""The sample museum: a deterministic world of Met objects with studio views and ground truth.

`build_world(seed)` returns about 300 objects in all 19 departments: the 59 real Met objects of the
embedded catalog (real ids, titles, artists; their real reproductions and details as views), the four
real records of the API documentation (45734, 336228, 352204, 1), one object per edge case, and
procedural artworks. Images are rendered lazily (`World.renderers`), so building takes well under a
second. The Flickr and Commons sides are added by `world_flickr.build_flickr` and
`world_commons.build_commons` when those modules are installed.

Ground truth (`MetObject.expected_statuses`, one per image URL: primaryImage, then additionalImages;
`expected_kept` counts "kept") follows the rules `crawl met` applies with default options, in order:

1. the object is public domain and has a primaryImage (otherwise no image rows at all);
2. the download fails (404) -> "http_error"; the bytes do not decode -> "decode_error"
   (truncated or garbled JPEG, an HTML page answered with 200). A PNG served as image/jpeg decodes: kept;
3. shorter side < `min_side_px` -> "too_small"; longer/shorter side > `max_aspect_ratio` -> "aspect_ratio";
4. an exact (sha256) or near (pHash Hamming <= threshold) copy of an image kept earlier -> "duplicate";
5. the first `max_images_per_object` (10) survivors in URL order are kept, later ones "over_cap".

The world is built so that these outcomes do not depend on the exact thresholds within SAFE_RANGES:
ordinary views have aspect ratios <= 2.2 and shorter sides >= 270 px (any rendition), the extreme ones
are 8:1 or 1:9 (always 2400x300 or 300x2700 px) and the tiny ones 40x30 px; near duplicates are within pHash Hamming 2 of their original
and distinct views of one object at least 14 apart (tests/test_sample_world.py checks this).
"""

from __future__ import annotations

import importlib
import importlib.util
import random
from dataclasses import dataclass, field
from functools import partial

from metdata.sample import met_records as mr
from metdata.sample.exhibit_images import STYLES, Artwork, View, render_bytes, render_view
from metdata.sample.model import BASE, MetObject, World
from metdata.sample.realdata import RealImage, load_catalog

# Defaults of `crawl met` (metdata.stages.met_object.ImageParams) that the ground truth assumes, and the
# ranges of each setting over which the ground truth stays the same.
CRAWL_DEFAULTS = {"max_images_per_object": 10, "max_side_px": 500, "min_side_px": 64,
                  "max_aspect_ratio": 4.0, "phash_threshold": 4}
SAFE_RANGES = {"min_side_px": (31, 270), "max_aspect_ratio": (2.2, 8.0), "phash_threshold": (2, 13)}
TINY_SIZE = (40, 30)
WEB_LARGE_PX = (560, 800)  # primaryImageSmall: the "web-large" rendition
ORIGINAL_PX = (1000, 1400)  # primaryImage / additionalImages by default (build_world(original_px=...))

# Real reproductions within pHash 2 of another reproduction of the same object (near duplicates),
# and ones 6-8 bits away (ambiguous around the threshold: left out of the Met side, kept for queries).
REAL_NEAR_DUPLICATES = {
    "art/met-436532-self-portrait-with-a-straw-hat.jpg": "art/met-436532-self-portrait-with-a-straw-hat-v2.jpg",
    "art/met-436535-wheat-field-with-cypresses-v2.jpg": "art/met-436535-wheat-field-with-cypresses.jpg",
    "art/met-437127-bridge-over-a-pond-of-water-v2.jpg": "art/met-437127-bridge-over-a-pond-of-water.jpg",
}
REAL_AMBIGUOUS = {"art/met-10388-the-cup-of-tea-v2.jpg", "art/met-436155-the-rehearsal-of-the-ballet-onstage-v2.jpg"}

# Details photographed of an artwork: square fractions, so they keep the artwork's aspect ratio.
DETAIL_BOXES = [(0.0, 0.0, 0.55, 0.55), (0.45, 0.45, 1.0, 1.0), (0.45, 0.0, 1.0, 0.55), (0.0, 0.45, 0.55, 1.0),
                (0.25, 0.25, 0.75, 0.75), (0.25, 0.0, 0.75, 0.5), (0.0, 0.25, 0.5, 0.75), (0.5, 0.25, 1.0, 0.75),
                (0.25, 0.5, 0.75, 1.0), (0.3, 0.3, 0.6, 0.6)]


@dataclass
class Image:
    """One image URL of an object: the view it shows, how its bytes are made, and its ground truth."""

    view: View
    variant: str = "jpeg"  # see exhibit_images.VARIANTS
    missing: bool = False  # the URL answers 404
    same_as: View | None = None  # the view this one duplicates (near-duplicate reproductions)
    file_name: str | None = None  # keep a given CDN file name (real fixtures, names with spaces)

    @property
    def content(self) -> View:
        return self.same_as or self.view


def expected_statuses(images: list[Image], max_images: int = CRAWL_DEFAULTS["max_images_per_object"]) -> list[str]:
    """The manifest status of each image under the rules in the module docstring."""
    statuses, kept = [], set()
    for image in images:
        width, height = image.view.size(WEB_LARGE_PX[0])  # the smallest rendition served
        if image.missing:
            status = "http_error"
        elif image.variant in ("truncated", "corrupt", "html"):
            status = "decode_error"
        elif min(width, height) < CRAWL_DEFAULTS["min_side_px"]:
            status = "too_small"
        elif max(width, height) / min(width, height) > CRAWL_DEFAULTS["max_aspect_ratio"]:
            status = "aspect_ratio"
        elif image.content in kept:
            status = "duplicate"
        elif len(kept) >= max_images:
            status = "over_cap"
        else:
            status = "kept"
            kept.add(image.content)
        statuses.append(status)
    return statuses


@dataclass
class _Builder:
    rng: random.Random
    original_px: int | None
    objects: dict[int, MetObject] = field(default_factory=dict)
    renderers: dict = field(default_factory=dict)
    _file_counter: int = 100_000

    def procedural_art(self, aspect: float | None = None) -> Artwork:
        aspect = aspect or self.rng.choice([0.5, 0.62, 0.75, 0.8, 1.0, 1.25, 1.33, 1.5, 1.6, 2.0])
        return Artwork(aspect=aspect, seed=self.rng.randrange(2**31), style=self.rng.choice(STYLES))

    def views_of(self, art: Artwork, n: int) -> list[View]:
        """`n` distinct studio views: the whole artwork first, then details, the verso, the installation."""
        extra = [View(art, box) for box in DETAIL_BOXES] + [View(art, mirrored=True), View(art, installation=True)]
        return [View(art)] + self.rng.sample(extra, n - 1)

    def add(self, object_id: int, department_id: int, images: list[Image], notes: str, *,
            small_missing: bool = False, listed: bool = True, record: dict | None = None, **fields) -> MetObject:
        """Register the object's image URLs and renderers, and store its record and ground truth."""
        folder = mr.IMAGE_FOLDER[department_id]
        original_px = self.rng.randint(*ORIGINAL_PX)  # drawn either way: original_px must not shift the rest
        original_px = self.original_px or original_px
        web_px = self.rng.randint(*WEB_LARGE_PX)
        public = fields.get("isPublicDomain", True) if record is None else record["isPublicDomain"]
        urls = []
        for image in images:
            name = image.file_name or self._next_file_name()
            original = f"/CRDImages/{folder}/original/{name}"
            urls.append(BASE + original)
            if public and not image.missing:
                self.renderers[original] = partial(render_bytes, image.view, original_px, image.variant)
                self.renderers[f"/CRDImages/{folder}/web-large/{name}"] = partial(
                    render_bytes, image.view, web_px, image.variant)
        if images and public:
            image_fields = {"primaryImage": urls[0],
                            "primaryImageSmall": "" if small_missing else urls[0].replace("/original/", "/web-large/"),
                            "additionalImages": urls[1:]}
        else:
            image_fields = {"primaryImage": "", "primaryImageSmall": "", "additionalImages": []}
        if record is None:
            record = mr.make_record(object_id, **{**fields, **image_fields})
        else:
            record = {**record, **image_fields} if public else record
        statuses = expected_statuses(images) if public and images and listed else []
        obj = MetObject(record=record, expected_kept=statuses.count("kept"), notes=notes, listed=listed,
                        department_id=department_id, expected_statuses=statuses,
                        studio_image=partial(render_view, images[0].view) if images else None)
        self.objects[object_id] = obj
        return obj

    def _next_file_name(self) -> str:
        self._file_counter += self.rng.randint(1, 40)
        return f"{self.rng.choice(['DP', 'DT', 'DP-'])}{self._file_counter}.jpg"


def build_world(seed: int = 0, *, original_px: int | None = None, n_objects: int = 300) -> World:
    """The sample museum for `seed`. `original_px` fixes the originals' longest side (default 1000-1400 px)."""
    rng = random.Random(seed)
    builder = _Builder(rng=rng, original_px=original_px)
    catalog = load_catalog()
    artists = mr.make_artists(rng, 60)
    _add_real_objects(builder, catalog)
    _add_fixture_objects(builder)
    taken = set(builder.objects)
    _add_edge_cases(builder, artists, taken)
    while len(builder.objects) < n_objects:
        art = builder.procedural_art()
        n_views = rng.choice([1] * 5 + [2, 3, 4] * 3 + [5, 6, 7, 8, 9] + [11, 13])
        images = [Image(view) for view in builder.views_of(art, n_views)]
        _add_procedural(builder, _new_id(rng, taken), images, artists, art.aspect,
                        notes="over the cap" if n_views > 10 else "")
    order = list(builder.objects)
    rng.shuffle(order)  # /objects lists ids unordered, like the real API
    world = World(seed=seed, objects={i: builder.objects[i] for i in order}, departments=mr.DEPARTMENTS,
                  photographers=[], photos=[], commons_files={}, commons_categories={}, own_photos=[],
                  renderers=builder.renderers)
    _add_other_sources(world, seed, catalog)
    return world


def _add_other_sources(world: World, seed: int, catalog: list[RealImage]) -> None:
    """Flickr and Commons sides, each from its own random stream so the Met side never shifts."""
    if importlib.util.find_spec("metdata.sample.world_flickr") is not None:
        flickr = importlib.import_module("metdata.sample.world_flickr")
        world.photographers, world.photos, world.own_photos, renderers = flickr.build_flickr(
            random.Random(f"flickr-{seed}"), world.objects, catalog)
        world.renderers.update(renderers)
    if importlib.util.find_spec("metdata.sample.world_commons") is not None:
        commons = importlib.import_module("metdata.sample.world_commons")
        world.commons_files, world.commons_categories, renderers = commons.build_commons(
            random.Random(f"commons-{seed}"), world.objects, catalog)
        world.renderers.update(renderers)


def _new_id(rng: random.Random, taken: set[int]) -> int:
    while True:
        object_id = rng.randint(2, 899_999)
        if object_id not in taken:
            taken.add(object_id)
            return object_id


# --- the real Met objects of the embedded catalog ------------------------------------------------------

def _real_department(object_id: int) -> int:
    """The department of a catalog object, from the Met's id ranges (American Wing ids are low, ...)."""
    if object_id < 30_000 or object_id in (717587, 751512, 823657):
        return 1
    ranges = [(36_000, 70_000, 6), (250_000, 260_000, 13), (300_000, 320_000, 5), (435_000, 440_000, 11),
              (440_000, 456_000, 14), (459_000, 460_000, 15), (460_000, 480_000, 7), (540_000, 560_000, 10)]
    return next(dept for low, high, dept in ranges if low <= object_id < high)


def _date_range(text: str) -> tuple[int, int]:
    """objectBeginDate/objectEndDate from a free-text date ("ca. 1880–81", "ca. 550–540 BCE")."""
    import re

    years = [int(y) for y in re.findall(r"(?<![\d/])(\d{3,4})(?![\d])", text.split("(")[0].replace("A.D.", ""))]
    if "A.H." in text:
        years = years[1:]
    if not years:
        return 0, 0
    begin, end = years[0], years[-1]
    if end < begin and len(str(end)) < len(str(begin)):  # "1880–81"
        end = int(str(begin)[: len(str(begin)) - len(str(end))] + str(end))
    if "BCE" in text:
        begin, end = -begin, -end
    return begin, end


def _real_artist(name: str, rng: random.Random) -> tuple[mr.Artist | None, str]:
    """An Artist for a catalog name, or None and the culture for anonymous works ("Unknown (Herat)")."""
    if name.startswith("Unknown ("):
        return None, name[len("Unknown ("):-1]
    if name.endswith((" artist", " weaver")):
        return None, name.rsplit(" ", 1)[0]
    return mr.Artist(name=name, nationality="", begin=0, end=0, constituent_id=rng.randint(1000, 300_000),
                     wikidata=f"https://www.wikidata.org/wiki/Q{rng.randint(10_000, 999_999)}"), ""


def _add_real_objects(builder: _Builder, catalog: list[RealImage]) -> None:
    by_id: dict[int, list[RealImage]] = {}
    for item in catalog:
        if item.met_object_id is not None and item.file not in REAL_AMBIGUOUS:
            by_id.setdefault(item.met_object_id, []).append(item)
    rng = builder.rng
    for object_id, items in sorted(by_id.items()):
        items.sort(key=lambda i: (i.file in REAL_NEAR_DUPLICATES, -i.width * i.height, i.file))
        views = {i.file: View(Artwork(aspect=i.width / i.height, file=i.file)) for i in items}
        images = [Image(views[i.file], same_as=views.get(REAL_NEAR_DUPLICATES.get(i.file, ""))) for i in items]
        primary = views[items[0].file]
        images += [Image(View(primary.art, box)) for box in rng.sample(DETAIL_BOXES[:5], rng.randint(0, 3))]
        first = items[0]
        artist, culture = _real_artist(first.artist, rng)
        begin, end = _date_range(first.date)
        department_id = _real_department(object_id)
        dimensions, measurements = mr.make_measurements(rng, primary.art.aspect)
        builder.add(
            object_id, department_id, images,
            notes="real Met object" + (" with a near-duplicate reproduction" if any(i.same_as for i in images) else ""),
            **_common_fields(rng, department_id), **mr.artist_fields(artist), title=first.title,
            culture=culture, objectDate=first.date.split(" (")[0], objectBeginDate=begin, objectEndDate=end,
            dimensions=dimensions, measurements=measurements, tags=mr.make_tags(rng),
        )


def _common_fields(rng: random.Random, department_id: int) -> dict:
    names, classification, media, _cultures = mr.DEPARTMENT_VOCAB[department_id]
    year = rng.randint(1870, 2024)
    on_view = rng.random() < 0.3
    return {
        "isHighlight": rng.random() < 0.06,
        "accessionNumber": f"{year % 100:02d}.{rng.randint(1, 300)}.{rng.randint(1, 40)}",
        "accessionYear": str(year) if rng.random() < 0.95 else "",
        "department": mr.department_name(department_id),
        "objectName": rng.choice(names), "classification": classification if rng.random() < 0.87 else "",
        "medium": rng.choice(media),
        "creditLine": rng.choice(["Rogers Fund", "Bequest of Mrs. H. O. Havemeyer", "Gift of the artist",
                                  "Purchase, Joseph Pulitzer Bequest"]) + f", {year}",
        "metadataDate": mr.metadata_date(rng),
        "objectWikidata_URL": f"https://www.wikidata.org/wiki/Q{rng.randint(10_000, 9_999_999)}" if rng.random() < 0.5 else "",
        "isTimelineWork": rng.random() < 0.05,
        "GalleryNumber": str(rng.randint(500, 999)) if on_view else "",
    }


# --- the documentation's real records ----------------------------------------------------------------

def _add_fixture_objects(builder: _Builder) -> None:
    """45734 and 336228 get procedural views under their real CDN file names; 352204 and 1 have none."""
    shapes = {45734: (6, 0.46), 336228: (9, 0.77), 352204: (9, 0.66), 1: (1, 1.0)}
    for record in mr.load_fixture_records():
        object_id = record["objectID"]
        department_id, aspect = shapes[object_id]
        art = builder.procedural_art(aspect)
        urls = [record["primaryImage"], *record["additionalImages"]] if record["primaryImage"] else []
        views = builder.views_of(art, max(1, len(urls)))
        images = [Image(v, file_name=u.rsplit("/", 1)[-1]) for v, u in zip(views, urls)]
        notes = "real record from the API documentation" + ("" if record["isPublicDomain"] else ", not public domain")
        builder.add(object_id, department_id, images, notes, record=record)


# --- procedural objects and edge cases ----------------------------------------------------------------

def _add_procedural(builder: _Builder, object_id: int, images: list[Image], artists: list[mr.Artist],
                    aspect: float, notes: str, *, department_id: int | None = None, small_missing: bool = False,
                    listed: bool = True, **overrides) -> MetObject:
    rng = builder.rng
    department_id = department_id or rng.choice(list(mr.DEPARTMENT_VOCAB))
    artist = rng.choice(artists) if rng.random() < 0.75 else None
    begin = (artist.begin + 20 if artist else rng.randint(-1500, 1900))
    end = begin + rng.choice([0, 0, 1, 2, 5, 10])
    dimensions, measurements = mr.make_measurements(rng, aspect)
    _names, _classification, _media, cultures = mr.DEPARTMENT_VOCAB[department_id]
    country = rng.choice(mr.COUNTRIES) if rng.random() < 0.3 else ""
    fields = {
        **_common_fields(rng, department_id), **mr.artist_fields(artist),
        "title": _unique_title(rng, builder), "culture": "" if artist else rng.choice(cultures),
        "objectDate": (f"ca. {begin}" if begin > 0 else f"{-begin} BCE") if begin == end else
                      (f"{begin}–{end}" if begin > 0 else f"{-begin}–{-end} BCE"),
        "objectBeginDate": begin, "objectEndDate": end, "dimensions": dimensions, "measurements": measurements,
        "geographyType": "Made in" if country else "", "country": country,
        "tags": mr.make_tags(rng),
    }
    fields.update(overrides)
    return builder.add(object_id, department_id, images, notes, small_missing=small_missing, listed=listed, **fields)


def _unique_title(rng: random.Random, builder: _Builder) -> str:
    used = {o.record["title"] for o in builder.objects.values()}
    while True:
        title = rng.choice([f"{rng.choice(mr.SUBJECTS)} with {rng.choice(mr.MOTIFS)}",
                            f"{rng.choice(mr.MOTIFS)[0].upper()}{rng.choice(mr.MOTIFS)[1:]} by the {rng.choice(mr.SUBJECTS)}",
                            f"{rng.choice(mr.SUBJECTS)}, {rng.choice(['Morning', 'Evening', 'Autumn', 'Spring', 'Study'])}"])
        if title not in used:
            return title


def _add_edge_cases(builder: _Builder, artists: list[mr.Artist], taken: set[int]) -> None:
    """One object per edge case the crawler must handle; `notes` says which."""
    rng = builder.rng

    def views(n: int, aspect: float | None = None) -> list[View]:
        art = builder.procedural_art(aspect)
        return builder.views_of(art, n)

    def add(notes: str, images: list[Image], aspect: float = 1.0, **kwargs) -> None:
        _add_procedural(builder, _new_id(rng, taken), images, artists, aspect, notes, **kwargs)

    a = views(4)
    add("exact duplicate (same bytes, another file name)", [Image(a[0]), Image(a[1]), Image(a[0]), Image(a[2])])
    a = views(3)
    add("re-encoded near duplicate", [Image(a[0]), Image(a[1]), Image(a[2]), Image(a[1], "reencoded")])
    a = views(2)
    add("resized near duplicate", [Image(a[0]), Image(a[1]), Image(a[0], "resized")])
    a = views(2)
    scroll = View(builder.procedural_art(8.0), fixed_size=(2400, 300))
    add("extreme aspect ratio (an 8:1 handscroll view)", [Image(a[0]), Image(scroll), Image(a[1])],
        department_id=6, objectName="Handscroll")
    add("extreme aspect ratio only (1:9 hanging scroll)",
        [Image(View(builder.procedural_art(1 / 9), fixed_size=(300, 2700)))],
        aspect=1 / 9, department_id=6, objectName="Hanging scroll")
    a = views(2)
    add("tiny image (40x30)", [Image(a[0]), Image(View(a[0].art, fixed_size=TINY_SIZE)), Image(a[1])])
    a = views(1)
    add("tiny primary image (30x40)", [Image(View(a[0].art, fixed_size=TINY_SIZE[::-1])), Image(a[0])])
    for _ in range(6):
        add("not public domain", [Image(views(1)[0])], isPublicDomain=False,
            rightsAndReproduction=f"© {rng.randint(1960, 2020)} Artist Rights Society (ARS), New York")
    add("public domain without an image", [], department_id=16)
    a = views(2)
    add("primary image URL answers 404", [Image(views(1)[0], missing=True), Image(a[0]), Image(a[1])])
    add("every image URL answers 404", [Image(v, missing=True) for v in views(2)])
    a = views(3)
    add("corrupt JPEG bytes", [Image(a[0]), Image(a[1], "corrupt"), Image(a[2])])
    a = views(2)
    add("corrupt primary image", [Image(a[0], "corrupt"), Image(a[1])])
    a = views(3)
    add("truncated JPEG", [Image(a[0]), Image(a[1]), Image(a[2], "truncated")])
    a = views(2)
    add("PNG served as image/jpeg (decodes: kept)", [Image(a[0]), Image(a[1], "png")])
    a = views(2)
    add("HTML page served with 200 at an image URL", [Image(a[0]), Image(a[1], "html")])
    add("primaryImage set but primaryImageSmall empty", [Image(v) for v in views(2)], small_missing=True)
    add("constituents null, tags null, BCE date (Temple of Dendur shape)", [Image(v) for v in views(3)],
        department_id=10, constituents=None, tags=None, objectBeginDate=-10, objectEndDate=-10,
        objectDate="ca. 10 B.C.", artistDisplayName="", artistRole="", artistAlphaSort="", artistDisplayBio="",
        artistNationality="", artistBeginDate="", artistEndDate="", artistGender="", artistWikidata_URL="",
        artistULAN_URL="", culture="Egyptian")
    add("date unknown (0/0)", [Image(views(1)[0])], objectDate="date unknown", objectBeginDate=0, objectEndDate=0)
    add("listed but answers 404 Not a valid object", [Image(views(1)[0])], listed=False)
    add("twelve distinct views (cap at 10)", [Image(v) for v in views(12)])
    a = views(12)
    add("fourteen views with an exact and a near duplicate (cap at 10)",
        [Image(a[0]), Image(a[1]), Image(a[0]), Image(a[2]), Image(a[2], "reencoded")] + [Image(v) for v in a[3:]])
    a = views(2)
    add("file name with a space", [Image(a[0], file_name="EP 1975.1.138 Kalimian Temple.jpg"), Image(a[1])],
        department_id=11)
