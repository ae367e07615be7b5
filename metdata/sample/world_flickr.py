"""The sample museum's Flickr: photographers, their visitor photos with the texts people write, own photos.

Most photos show real Met artworks of the embedded catalog (as visitor photos made by `visitor.py`), so
that recognition on the sample means something; the rest show non-Met art (hard negatives included)
or no art at all. Titles, descriptions and tags name the artwork the way people do: the full or a
partial title, a misspelling, only the artist, the accession number, hashtags, another language, or
nothing. Ground truth per photo: `object_id` (the Met object shown, or None) and `names_artwork` (the
text names that object by title, artist or accession number; always False when object_id is None).

Image sizes follow Flickr: every size whose longest edge is below the original's exists (plus the two
square crops); sizes from 1600 px and the original have their own secrets; about a third of owners
hide their originals (no `url_o`). `photo_sizes` is the one source of truth for the fake's extras,
`getSizes` and static host.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from PIL import Image

from metdata.sample.model import FlickrPhoto, MetObject, OwnPhoto, Photographer, World
from metdata.sample.realdata import RealImage, load_image
from metdata.sample.visitor import visitor_photo

STATIC_PREFIX = "/flickr-static"
OWN_PREFIX = "/own-photos"

# (extra name, URL suffix, getSizes label, longest edge); square crops have edge x edge pixels.
SIZE_TABLE = [
    ("sq", "_s", "Square", 75),
    ("q", "_q", "Large Square", 150),
    ("t", "_t", "Thumbnail", 100),
    ("s", "_m", "Small", 240),
    ("n", "_n", "Small 320", 320),
    ("w", "_w", "Small 400", 400),
    ("m", "", "Medium", 500),
    ("z", "_z", "Medium 640", 640),
    ("c", "_c", "Medium 800", 800),
    ("l", "_b", "Large", 1024),
    ("h", "_h", "Large 1600", 1600),
    ("k", "_k", "Large 2048", 2048),
]
_SQUARE = {"sq", "q"}
_OWN_SECRET = {"h", "k"}  # sizes from 1600 px up have their own secret, like the original

# Flickr licence ids (B.5) with sampling weights: all-rights-reserved and NC licences are common.
LICENSE_WEIGHTS = {"0": 20, "1": 6, "2": 8, "3": 5, "4": 12, "5": 8, "6": 3, "7": 3, "8": 1, "9": 5,
                   "10": 3, "11": 8, "12": 5, "13": 2, "14": 5, "15": 3, "16": 3}

PHOTOGRAPHER_NAMES = [
    ("zoe.brandt", "Zoë Brandt"), ("flefevre", "François Lefèvre"), ("jmueller_ffm", "Jürgen Müller"),
    ("soren.k", "Søren Kjærgaard"), ("lukaszw", "Łukasz Wróbel"), ("anamunoz", "Ana Muñoz"),
    ("taro_y", "山田太郎"), ("dima.iv", "Дмитрий Иванов"), ("alex_pap", "Αλέξανδρος Παπαδόπουλος"),
    ("ilkay", "İlkay Çelik"), ("nguyen.an", "Nguyễn Văn An"), ("m.alahmad", "محمد الأحمد"),
    ("minjun", "김민준"), ("priya_s", "Priya Sharma"), ("jdoe1987", "John Doe"),
    ("museumhopper", "Maria Rossi"), ("nyc_walks", "David Chen"), ("artlover22", "Emily Clark"),
    ("kwame.a", "Kwame Asante"), ("olga_p", "Olga Petrova"), ("chloe.m", "Chloé Martin"),
    ("hiro.t", "高橋弘"), ("sven_o", "Sven Öberg"), ("ines.g", "Inês Gonçalves"), ("mkowalski", "Marek Kowalski"),
    ("sarahphotos", "Sarah O'Neill"), ("benj", "Benjamin Weiß"), ("li.na", "李娜"), ("tomas.h", "Tomáš Horák"),
    ("rafa_nyc", "Rafael Peña"), ("aylin", "Aylin Yıldız"), ("pete.b", "Peter Brown"),
    ("noemie", "Noémie Dubois"), ("carlos.v", "Carlos Vélez"), ("eva_k", "Eva Kovács"), ("raj.p", "Raj Patel"),
]

_NOART_TITLES = ["Lunch break", "my cat 😻", "Sunset from the bridge", "coffee time", "Street, Soho",
                 "IMG_4411", "Central Park in the rain", "Friends &amp; family", "Subway", "Bagels!!"]
_FOREIGN = [
    "«{title}» de {artist}, Metropolitan Museum",
    "{artist}: {title} — Met, New York",
    "Gemälde von {artist} im Met",
    "{artist}の作品、メトロポリタン美術館にて",
    "大都会艺术博物馆 {artist}",
    "Un quadro di {artist} al Met",
    "Cuadro de {artist} en el Met de Nueva York",
]
_VAGUE = ["Museum day", "Sunday at the museum", "IMG_{n}", "Love this one", "Met visit", "DSC0{n}"]
_STYLES = {"full": 4, "partial": 3, "misspelled": 2, "artist": 2, "accession": 1, "hashtags": 2,
           "foreign": 2, "link": 1, "vague": 2}


@dataclass(frozen=True)
class Subject:
    """What a photo shows: a picture source, its catalog entry (None for procedural exhibits), its object."""

    load: Callable[[], Image.Image]
    real: RealImage | None
    object_id: int | None
    title: str


@dataclass(frozen=True)
class PhotoSize:
    extra: str  # "m", "l", ... or "o"
    label: str  # flickr.photos.getSizes label
    path: str  # URL path on the sample server
    width: int
    height: int


def derived_secret(secret: str, suffix: str) -> str:
    """The separate secret of a large size or of the original, fixed by the photo's shared secret."""
    return hashlib.sha1(f"{secret}{suffix}".encode()).hexdigest()[:10]


def original_is_public(photo: FlickrPhoto) -> bool:
    """About a third of owners do not let others download originals: no url_o, no Original size."""
    return int(photo.photo_id) % 3 != 0


def photo_sizes(photo: FlickrPhoto) -> list[PhotoSize]:
    """The sizes Flickr offers for `photo`, smallest first, the original last when it is public."""
    long_side = max(photo.width, photo.height)
    sizes = []
    for extra, suffix, label, edge in SIZE_TABLE:
        if extra in _SQUARE:
            width = height = edge
        elif edge < long_side:
            scale = edge / long_side
            width, height = max(1, round(photo.width * scale)), max(1, round(photo.height * scale))
        else:
            continue
        secret = derived_secret(photo.secret, suffix) if extra in _OWN_SECRET else photo.secret
        sizes.append(PhotoSize(extra, label, f"{STATIC_PREFIX}/{photo.server}/{photo.photo_id}_{secret}{suffix}.jpg",
                               width, height))
    if original_is_public(photo):
        sizes.append(PhotoSize("o", "Original", photo.image_path, photo.width, photo.height))
    return sizes


def build_flickr(
    rng: random.Random, objects: dict[int, MetObject], catalog: list[RealImage]
) -> tuple[list[Photographer], list[FlickrPhoto], list[OwnPhoto], dict[str, Callable[[], bytes]]]:
    """Photographers, their photos, own photos and the renderers of every image URL path they use."""
    rng = random.Random(rng.getrandbits(64))
    photographers = [
        Photographer(nsid=f"{rng.randint(10**7, 10**11 - 1)}@N0{rng.randint(1, 8)}", username=u, realname=r)
        for u, r in PHOTOGRAPHER_NAMES
    ]
    subjects = _subjects(rng, objects, catalog)
    licences = list(LICENSE_WEIGHTS)  # every licence at least once, then by weight
    licences += rng.choices(licences, weights=list(LICENSE_WEIGHTS.values()), k=max(0, len(subjects) - len(licences)))
    rng.shuffle(licences)
    uploads = sorted(rng.randint(1325376000, 1750000000) for _ in subjects)  # 2012 .. mid 2025
    photos, renderers = [], {}
    for i, (subject, upload) in enumerate(zip(subjects, uploads)):
        photo_id = str(20000000000 + i * 7919 + rng.randint(0, 7000))
        object_id = subject.object_id
        record = objects[object_id].record if object_id is not None else None
        title, description, tags, names = _texts(rng, subject, record, i)
        width, height = _photo_size(rng, subject)
        secret = f"{rng.getrandbits(40):010x}"
        server = str(rng.choice([4844, 7372, 8056, 65535]))
        fmt = "png" if i % 41 == 7 else "jpg"
        taken = upload - rng.randint(0, 30 * 86400)
        photo = FlickrPhoto(
            photo_id=photo_id, owner=rng.choice(photographers).nsid, secret=secret, server=server,
            title=title, description=description, tags=tags, license=licences[i],
            date_taken=dt.datetime.fromtimestamp(taken, dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            date_upload=upload, width=width, height=height,
            image_path=f"{STATIC_PREFIX}/{server}/{photo_id}_{derived_secret(secret, '_o')}_o.{fmt}",
            object_id=object_id, names_artwork=names, original_format=fmt,
        )
        photos.append(photo)
        renderers.update(_photo_renderers(photo, subject, rng.getrandbits(32)))
    own_photos = []
    own_subjects = [s for s in subjects if s.object_id][:6] + [s for s in subjects if s.object_id is None][:2]
    for n, subject in enumerate(own_subjects):
        path = f"{OWN_PREFIX}/IMG_{2041 + n * 13:04d}.jpg"
        own_photos.append(OwnPhoto(file_name=Path(path).name, image_path=path, object_id=subject.object_id))
        renderers[path] = _jpeg_renderer(subject, rng.getrandbits(32), _photo_size(rng, subject), "jpg")
    return photographers, photos, own_photos, renderers


def _subjects(rng: random.Random, objects: dict[int, MetObject], catalog: list[RealImage]) -> list[Subject]:
    """Each real Met artwork two to four times, 16 procedural exhibits, non-Met art and non-art photos."""
    by_object: dict[int, list[RealImage]] = {}
    for image in catalog:
        if image.met_object_id in objects:
            by_object.setdefault(image.met_object_id, []).append(image)
    subjects = []
    for object_id, views in sorted(by_object.items()):
        for _ in range(rng.randint(2, 4)):  # enough Met queries that val and test both mean something
            subjects.append(_real_subject(rng.choice(views), object_id))
    procedural = sorted(i for i, o in objects.items()
                        if i not in by_object and o.studio_image is not None and o.listed and o.expected_kept)
    for object_id in rng.sample(procedural, min(len(procedural), 16)):
        studio = objects[object_id].studio_image
        subjects.append(Subject(partial(studio, 900), None, object_id, objects[object_id].record.get("title", "")))
    others = [c for c in catalog if c.met_object_id is None and c.kind == "art"]
    noart = [c for c in catalog if c.kind == "noart"]
    subjects += [_real_subject(c, None) for c in rng.sample(others, min(len(others), 14))]
    subjects += [_real_subject(c, None) for c in rng.sample(noart, min(len(noart), 10))]
    rng.shuffle(subjects)
    return subjects


def _real_subject(image: RealImage, object_id: int | None) -> Subject:
    return Subject(partial(load_image, image.file), image, object_id, image.title)


def _photo_size(rng: random.Random, subject: Subject) -> tuple[int, int]:
    """Phone-photo sizes; some originals are below 1024 px so that url_l is missing for them."""
    long_side = rng.choices([800, 960, 1200, 1600], weights=[2, 2, 4, 1])[0]
    portrait = ("portrait" in subject.title.lower() or rng.random() < 0.35)
    short_side = long_side * 3 // 4
    return (short_side, long_side) if portrait else (long_side, short_side)


def _photo_renderers(photo: FlickrPhoto, subject: Subject, seed: int) -> dict[str, Callable[[], bytes]]:
    """The original and every smaller size, each rendered on first use from the same seeded scene.

    `visitor_photo` composes the scene at a working size and only then scales it, so each size shows the
    same photo; rendering a size directly costs a fraction of decoding and resizing the original.
    """
    renderers = {photo.image_path: _jpeg_renderer(subject, seed, (photo.width, photo.height), photo.original_format)}
    for size in photo_sizes(photo):
        if size.extra in _SQUARE:  # a centre crop of the photo scaled so that its shorter side fits
            scale = size.width / min(photo.width, photo.height)
            full = (max(size.width, round(photo.width * scale)), max(size.height, round(photo.height * scale)))
            renderers[size.path] = _jpeg_renderer(subject, seed, full, "jpg", crop=(size.width, size.height))
        elif size.extra != "o":
            renderers[size.path] = _jpeg_renderer(subject, seed, (size.width, size.height), "jpg")
    return renderers


def _jpeg_renderer(subject: Subject, seed: int, size: tuple[int, int], fmt: str,
                   crop: tuple[int, int] | None = None) -> Callable[[], bytes]:
    def render() -> bytes:
        photo = visitor_photo(subject.load(), random.Random(seed), size)
        if crop is not None:
            left, top = (photo.width - crop[0]) // 2, (photo.height - crop[1]) // 2
            photo = photo.crop((left, top, left + crop[0], top + crop[1]))
        return _encode(photo, fmt)

    return render


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "png":
        image.save(out, "PNG")
    else:
        image.save(out, "JPEG", quality=88)
    return out.getvalue()


def _texts(rng: random.Random, subject: Subject, record: dict | None, n: int):
    """(title, description, tags, names_artwork) as a visitor would write them."""
    if record is None:
        return _other_texts(rng, subject.real, n)
    title = record.get("title") or subject.title
    artist = record.get("artistDisplayName") or ""
    accession = record.get("accessionNumber") or ""
    style = rng.choices(list(_STYLES), weights=list(_STYLES.values()))[0]
    if style == "artist" and not artist:
        style = "full"
    base_tags = rng.sample(["metmuseum", "themet", "newyork", "nyc", "museum", "art", "painting", "gallery"], 3)
    description, names = "", True
    if style == "full":
        text = f"{title}, {artist}" if artist else title
        description = rng.choice(["", f"{artist} ({record.get('objectDate', '')})", "At the Met today"])
    elif style == "partial":
        text = _partial(rng, title)
    elif style == "misspelled":
        text = _misspell(rng, title) + (f" - {_misspell(rng, artist)}" if artist and rng.random() < 0.5 else "")
    elif style == "artist":
        text = rng.choice([f"{artist} at the Met", f"{artist}!", f"Love {artist}"])
    elif style == "accession":
        text = rng.choice(["Met museum", "Detail", "Gallery 800"])
        description = f"Accession number {accession}" if rng.random() < 0.5 else f"Met {accession}"
        names = bool(accession)
    elif style == "hashtags":
        text = rng.choice(["Museum day", "Met visit ✨", "#metmuseum"])
        description = " ".join(f"#{_tag(w)}" for w in [artist, title, "metmuseum"] if w)
    elif style == "foreign":
        text = rng.choice(_FOREIGN).format(title=title, artist=artist or title)
    elif style == "link":
        text = rng.choice(["Favourite painting", "this!!", _partial(rng, title)])
        url = f"https://www.metmuseum.org/art/collection/search/{record.get('objectID', '')}"
        description = f'See <a href="{url}" rel="noreferrer nofollow">{url[12:]}</a>'
    else:  # vague: the photo shows the object, but the text does not say which
        text, names = rng.choice(_VAGUE).format(n=4000 + n), False
    tags = base_tags + ([_tag(artist)] if names and artist and rng.random() < 0.5 else [])
    return text, description, tags, names


def _other_texts(rng: random.Random, image: RealImage, n: int):
    """Texts of photos that show nothing in the collection (they may still name some other artwork)."""
    if image.kind == "noart":
        return rng.choice(_NOART_TITLES).replace("4411", str(4000 + n)), "", ["nyc", "streetphotography"], False
    title = rng.choice([image.title, f"{image.artist}", _partial(rng, image.title), "Museum day"])
    return title, rng.choice(["", "Not the Met this time", "MoMA"]), ["museum", "art"], False


def _partial(rng: random.Random, title: str) -> str:
    """A few consecutive words of the title, without a leading article."""
    words = [w for w in re.split(r"[\s,()]+", title) if w]
    if words and words[0].lower() in {"the", "a", "an"} and len(words) > 1:
        words = words[1:]
    k = min(len(words), rng.randint(2, 3))
    start = rng.randint(0, len(words) - k)
    return " ".join(words[start:start + k]).lower() if rng.random() < 0.5 else " ".join(words[start:start + k])


def _misspell(rng: random.Random, text: str) -> str:
    """One typo: a dropped, doubled or swapped letter in a longer word."""
    words = text.split()
    long_words = [i for i, w in enumerate(words) if len(w) > 4]
    if not long_words:
        return text
    i = rng.choice(long_words)
    w, j = words[i], rng.randint(1, len(words[i]) - 2)
    words[i] = rng.choice([w[:j] + w[j + 1:], w[:j] + w[j] + w[j:], w[:j] + w[j + 1] + w[j] + w[j + 2:]])
    return " ".join(words)


def _tag(text: str) -> str:
    """Flickr's normalised tag: lower case, letters and digits only."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


def write_own_photos(world: World, directory: str | Path) -> Path:
    """Write the world's own photos into `directory` with their ground truth `objects.csv` (file,object_id)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    csv_path = directory / "objects.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "object_id"])
        for own in world.own_photos:
            (directory / own.file_name).write_bytes(world.image_bytes(own.image_path))
            writer.writerow([own.file_name, "" if own.object_id is None else own.object_id])
    return csv_path
