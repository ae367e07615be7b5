"""The sample museum's data model: what the generator (world.py) produces and the services serve.

Image URLs inside records are stored with the placeholder BASE ("{base}") and filled in with the
server's address when served, so one world can be served on any port. Every image lives in
`World.images`, keyed by its URL path on the sample server, and is rendered lazily and cached.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

BASE = "{base}"


@dataclass
class MetObject:
    record: dict  # the full /objects/{id} JSON record, keys in the real order, image URLs with BASE
    expected_kept: int | None = None  # ground truth: images `crawl met` should keep with default options
    notes: str = ""  # what this object exercises ("exact duplicate", "url fails", ...)
    listed: bool = True  # False for ids that search lists but /objects/{id} answers "Not a valid object"
    department_id: int = 0  # the /departments id (the record's `department` is the curatorial name)
    # ground truth per image URL (primaryImage, then additionalImages): the manifest status `crawl met`
    # should give it with default options ("kept", "duplicate", "http_error", ...); see world.py
    expected_statuses: list[str] = field(default_factory=list)
    # the object's primary studio view as a PIL image with the given longest side (None without image);
    # other worlds' builders (Flickr visitor photos, Commons copies) draw from it
    studio_image: Callable[[int], object] | None = field(default=None, repr=False, compare=False)


@dataclass
class Photographer:
    nsid: str  # e.g. "24662369@N07"
    username: str
    realname: str


@dataclass
class FlickrPhoto:
    photo_id: str
    owner: str  # Photographer.nsid
    secret: str
    server: str
    title: str
    description: str
    tags: list[str]
    license: str  # Flickr licence id as a string ("0" = all rights reserved)
    date_taken: str  # "YYYY-MM-DD HH:MM:SS"
    date_upload: int  # unix seconds
    width: int  # original size
    height: int
    image_path: str  # key into World.images for the original; other sizes are resized from it
    object_id: int | None  # ground truth: the Met object shown, or None
    names_artwork: bool  # ground truth: the text names the artwork (title, artist or accession number)
    original_format: str = "jpg"


@dataclass
class CommonsFile:
    pageid: int
    title: str  # "File:Name.jpg"
    category: str  # the category it sits in (without "Category:")
    kind: str  # "art" or "noart"
    extmetadata: dict  # the C.5 extmetadata object (values are {"value":..., "source":..., "hidden":""})
    width: int
    height: int
    image_path: str  # key into World.images; thumbnails are resized from it
    sha1: str
    timestamp: str  # ISO 8601 upload time
    met_object_id: int | None = None  # ground truth: a copy of this Met exhibit
    is_free: bool = True  # ground truth: passes the public-domain / CC0 rule


@dataclass
class CommonsCategory:
    name: str  # without the "Category:" prefix
    subcategories: list[str] = field(default_factory=list)
    files: list[int] = field(default_factory=list)  # pageids


@dataclass
class OwnPhoto:
    file_name: str
    image_path: str  # key into World.images
    object_id: int | None  # ground truth


@dataclass
class World:
    seed: int
    objects: dict[int, MetObject]
    departments: list[dict]  # [{"departmentId": int, "displayName": str}, ...]
    photographers: list[Photographer]
    photos: list[FlickrPhoto]
    commons_files: dict[int, CommonsFile]
    commons_categories: dict[str, CommonsCategory]
    own_photos: list[OwnPhoto]
    renderers: dict[str, Callable[[], bytes]]  # URL path -> function producing the image bytes
    _cache: dict[str, bytes] = field(default_factory=dict, repr=False)

    def image_bytes(self, path: str) -> bytes | None:
        """The bytes served at `path`, or None when no such image exists."""
        if path not in self._cache:
            render = self.renderers.get(path)
            if render is None:
                return None
            self._cache[path] = render()
        return self._cache[path]
