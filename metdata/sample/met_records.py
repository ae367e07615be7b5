"""Met object records for the sample museum: every key of the real API, in its order, with its types.

`make_record` fills the fields a caller does not give with the value the real API uses for "unknown"
(an empty string, `[]`, 0), so every record has all 57 keys. The vocabularies below give the
procedural objects plausible departments, names, artists and subject tags.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from importlib import resources

RECORD_KEYS: tuple[str, ...] = (
    "objectID", "isHighlight", "accessionNumber", "accessionYear", "isPublicDomain", "primaryImage",
    "primaryImageSmall", "additionalImages", "constituents", "department", "objectName", "title", "culture",
    "period", "dynasty", "reign", "portfolio", "artistRole", "artistPrefix", "artistDisplayName",
    "artistDisplayBio", "artistSuffix", "artistAlphaSort", "artistNationality", "artistBeginDate",
    "artistEndDate", "artistGender", "artistWikidata_URL", "artistULAN_URL", "objectDate", "objectBeginDate",
    "objectEndDate", "medium", "dimensions", "measurements", "creditLine", "geographyType", "city", "state",
    "county", "country", "region", "subregion", "locale", "locus", "excavation", "river", "classification",
    "rightsAndReproduction", "linkResource", "metadataDate", "repository", "objectURL", "tags",
    "objectWikidata_URL", "isTimelineWork", "GalleryNumber",
)
_DEFAULTS = {"isHighlight": False, "isPublicDomain": True, "additionalImages": [], "constituents": None,
             "objectBeginDate": 0, "objectEndDate": 0, "measurements": None, "tags": None,
             "isTimelineWork": False, "repository": "Metropolitan Museum of Art, New York, NY"}

# The live /departments list (2026: department 3 renamed), with the curatorial name objects carry and
# the folder code of their image URLs.
DEPARTMENTS: list[dict] = [
    {"departmentId": 1, "displayName": "American Decorative Arts"},
    {"departmentId": 3, "displayName": "Ancient West Asian Art"},
    {"departmentId": 4, "displayName": "Arms and Armor"},
    {"departmentId": 5, "displayName": "Arts of Africa, Oceania, and the Americas"},
    {"departmentId": 6, "displayName": "Asian Art"},
    {"departmentId": 7, "displayName": "The Cloisters"},
    {"departmentId": 8, "displayName": "The Costume Institute"},
    {"departmentId": 9, "displayName": "Drawings and Prints"},
    {"departmentId": 10, "displayName": "Egyptian Art"},
    {"departmentId": 11, "displayName": "European Paintings"},
    {"departmentId": 12, "displayName": "European Sculpture and Decorative Arts"},
    {"departmentId": 13, "displayName": "Greek and Roman Art"},
    {"departmentId": 14, "displayName": "Islamic Art"},
    {"departmentId": 15, "displayName": "The Robert Lehman Collection"},
    {"departmentId": 16, "displayName": "The Libraries"},
    {"departmentId": 17, "displayName": "Medieval Art"},
    {"departmentId": 18, "displayName": "Musical Instruments"},
    {"departmentId": 19, "displayName": "Photographs"},
    {"departmentId": 21, "displayName": "Modern Art"},
]
OBJECT_DEPARTMENT = {1: "The American Wing", 21: "Modern and Contemporary Art"}
IMAGE_FOLDER = {1: "ad", 3: "an", 4: "aa", 5: "ao", 6: "as", 7: "md", 8: "ci", 9: "dp", 10: "eg", 11: "ep",
                12: "es", 13: "gr", 14: "is", 15: "rl", 16: "li", 17: "md", 18: "mi", 19: "ph", 21: "ma"}


def department_name(department_id: int) -> str:
    """The `department` string objects of this department carry (curatorial, not the list's name)."""
    if department_id in OBJECT_DEPARTMENT:
        return OBJECT_DEPARTMENT[department_id]
    return next(d["displayName"] for d in DEPARTMENTS if d["departmentId"] == department_id)


def make_record(object_id: int, **fields) -> dict:
    """A full object record; `fields` use the API's key names. Unknown keys are a programming error."""
    unknown = set(fields) - set(RECORD_KEYS)
    if unknown:
        raise KeyError(f"not Met record keys: {sorted(unknown)}")
    record = {}
    for key in RECORD_KEYS:
        if key == "objectID":
            record[key] = object_id
        elif key in fields:
            record[key] = fields[key]
        elif key == "objectURL":
            record[key] = f"https://www.metmuseum.org/art/collection/search/{object_id}"
        else:
            value = _DEFAULTS.get(key, "")
            record[key] = list(value) if isinstance(value, list) else value
    return record


def load_fixture_records() -> list[dict]:
    """The real records of source_apis.md A.5 (45734, 336228, 352204, 1); image URLs start with BASE."""
    text = resources.files("metdata.sample").joinpath("data", "met_fixtures.json").read_text(encoding="utf-8")
    return json.loads(text)


@dataclass(frozen=True)
class Artist:
    name: str
    nationality: str
    begin: int
    end: int
    gender: str = ""
    constituent_id: int = 0
    wikidata: str = ""
    ulan: str = ""

    @property
    def alpha_sort(self) -> str:
        parts = self.name.split()
        return f"{parts[-1]}, {' '.join(parts[:-1])}" if len(parts) > 1 else self.name


def artist_fields(artist: Artist | None, role: str = "Artist") -> dict:
    """The constituents list and artist* fields for `artist` (anonymous works: null / empty)."""
    if artist is None:
        return {"constituents": None}
    return {
        "constituents": [{
            "constituentID": artist.constituent_id, "role": role, "name": artist.name.replace("&", "&amp;"),
            "constituentULAN_URL": artist.ulan, "constituentWikidata_URL": artist.wikidata,
            "gender": artist.gender,
        }],
        "artistRole": role, "artistDisplayName": artist.name,
        "artistDisplayBio": f"{artist.nationality}, {artist.begin}–{artist.end}" if artist.nationality else "",
        "artistAlphaSort": artist.alpha_sort, "artistNationality": artist.nationality,
        "artistBeginDate": str(artist.begin) if artist.begin else "",
        "artistEndDate": str(artist.end) if artist.end else "",
        "artistGender": artist.gender, "artistWikidata_URL": artist.wikidata, "artistULAN_URL": artist.ulan,
    }


# Per department: object names, classification, media and cultures of procedural objects.
DEPARTMENT_VOCAB: dict[int, tuple[list[str], str, list[str], list[str]]] = {
    1: (["Painting", "Quilt", "Sampler"], "Paintings", ["Oil on canvas", "Cotton, wool"], ["American"]),
    3: (["Relief", "Seal", "Plaque"], "Stone-Reliefs", ["Alabaster", "Gypsum alabaster"], ["Assyrian"]),
    4: (["Shield", "Helmet", "Sword guard"], "Shields", ["Steel, gold, leather"], ["German", "Japanese"]),
    5: (["Textile", "Mask", "Figure"], "Textiles-Woven", ["Camelid hair, cotton"], ["Nasca", "Yoruba"]),
    6: (["Hanging scroll", "Print", "Folding screen"], "Paintings",
        ["Ink and color on silk", "Polychrome woodblock print; ink and color on paper"], ["Japan", "China"]),
    7: (["Panel", "Window"], "Glass-Stained", ["Pot-metal glass, vitreous paint"], ["French"]),
    8: (["Dress", "Shawl"], "", ["Silk, cotton"], ["French", "Indian"]),
    9: (["Print", "Drawing"], "Prints", ["Etching", "Engraving", "Woodcut"], ["German", "Dutch"]),
    10: (["Relief", "Stela", "Amulet"], "", ["Limestone, paint", "Faience"], [""]),
    11: (["Painting"], "Paintings", ["Oil on canvas", "Oil on wood"], [""]),
    12: (["Plate", "Tapestry", "Vase"], "Ceramics", ["Tin-glazed earthenware", "Wool, silk"], ["Italian"]),
    13: (["Vase", "Mosaic", "Fresco"], "Vases", ["Terracotta", "Stone tesserae"], ["Greek, Attic", "Roman"]),
    14: (["Tile", "Folio", "Carpet"], "Ceramics", ["Stonepaste; polychrome painted", "Wool pile"],
         ["Iran", "Turkey"]),
    15: (["Painting", "Drawing"], "Paintings", ["Tempera on wood", "Oil on canvas"], [""]),
    16: (["Book"], "Books", ["Printed book"], [""]),
    17: (["Panel", "Enamel"], "Enamels", ["Champlevé enamel, copper-gilt"], ["French"]),
    18: (["Drum", "Lute"], "Chordophone", ["Wood, skin", "Wood, ivory"], ["Ghana", "Italy"]),
    19: (["Photograph"], "Photographs", ["Albumen silver print from glass negative"], [""]),
    21: (["Painting", "Collage"], "Paintings", ["Oil on canvas", "Gouache on paper"], [""]),
}

SUBJECTS = ["Landscape", "River Landscape", "Harbour", "Garden", "Still Life", "Portrait", "Seascape",
            "Mountain View", "Village Street", "Forest Interior", "Winter Scene", "Festival", "Orchard",
            "Procession", "Market", "Courtyard", "Pond", "Bridge", "Tower", "Waterfall", "Meadow",
            "Lighthouse", "Vineyard", "Shrine", "Pavilion", "Chapel", "Dunes", "Cliffs", "Canal", "Terrace"]
MOTIFS = ["Cranes", "Peonies", "a Red Boat", "Two Figures", "Cypresses", "Horses", "a Windmill", "Lanterns",
          "Swallows", "Poppies", "a Blue Vase", "Pomegranates", "the Morning Sun", "a Lute Player",
          "Fishermen", "Lilies", "a Sleeping Dog", "Herons", "Falling Leaves", "a Golden Bird", "Plum Blossoms",
          "Sailboats", "the Evening Star", "Bamboo", "Grapes", "a Fox", "Irises", "Ruins", "Cherries", "Deer"]
FIRST_NAMES = ["Anna", "Jan", "Clara", "Pieter", "Hélène", "Tomás", "Ingrid", "Matteo", "Sofia", "Émile",
               "Hana", "Kenji", "Margaretha", "Luis", "Olga", "Henri", "Yuki", "Carl", "Beatrix", "Joaquín"]
LAST_NAMES = ["Verhoeven", "Moreau", "Lindqvist", "Bellandi", "Kowalczyk", "Aubert", "Takamura", "Østergaard",
              "Delacroix-Vial", "Szabó", "Fairweather", "Castellanos", "Brandt", "Okonkwo", "Ivanova",
              "Marchetti", "Haverkamp", "Duchêne", "Nakagawa", "Whitcombe"]
NATIONALITIES = ["French", "Dutch", "American", "Italian", "German", "Japanese", "Spanish", "Swedish"]
TAG_TERMS = ["Landscapes", "Boats", "Flowers", "Birds", "Women", "Men", "Horses", "Trees", "Mountains",
             "Rivers", "Buildings", "Portraits", "Fruit", "Dogs", "Still Life", "Gardens", "Bridges", "Sun"]
COUNTRIES = ["France", "Netherlands", "Italy", "Japan", "Spain", "United States", "Germany", "Iran"]


def make_artists(rng: random.Random, n: int) -> list[Artist]:
    """`n` distinct synthetic artists with plausible life dates and authority links."""
    artists, names = [], set()
    while len(artists) < n:
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        if name in names:
            continue
        names.add(name)
        begin = rng.randint(1450, 1880)
        qid, ulan = rng.randint(10_000, 9_999_999), rng.randint(500_000_000, 500_999_999)
        artists.append(Artist(
            name=name, nationality=rng.choice(NATIONALITIES), begin=begin, end=begin + rng.randint(25, 85),
            gender="Female" if name.split()[0] in {"Anna", "Clara", "Hélène", "Ingrid", "Sofia", "Hana",
                                                    "Margaretha", "Olga", "Yuki", "Beatrix"} else "",
            constituent_id=rng.randint(1000, 300_000),
            wikidata=f"https://www.wikidata.org/wiki/Q{qid}" if rng.random() < 0.8 else "",
            ulan=f"http://vocab.getty.edu/page/ulan/{ulan}" if rng.random() < 0.8 else "",
        ))
    return artists


def make_tags(rng: random.Random) -> list[dict] | None:
    """Subject tags, or null (the API never sends an empty list); some tags lack an AAT link."""
    if rng.random() < 0.25:
        return None
    terms = rng.sample(TAG_TERMS, rng.randint(1, 4))
    return [{"term": term,
             "AAT_URL": None if rng.random() < 0.1 else f"http://vocab.getty.edu/page/aat/{300_000_000 + TAG_TERMS.index(term) * 7919}",
             "Wikidata_URL": f"https://www.wikidata.org/wiki/Q{1000 + TAG_TERMS.index(term) * 37}"}
            for term in terms]


def make_measurements(rng: random.Random, aspect: float) -> tuple[str, list[dict] | None]:
    """The `dimensions` text and `measurements` list (null on some objects, as in the real API)."""
    if rng.random() < 0.15:
        return "Dimensions unavailable", None
    height = round(rng.uniform(15, 180), 1)
    width = round(height * aspect, 1)
    text = f"{height / 2.54:.1f} x {width / 2.54:.1f} in. ({height} x {width} cm)"
    return text, [{"elementName": "Overall", "elementDescription": None,
                   "elementMeasurements": {"Height": height, "Width": width}}]


def metadata_date(rng: random.Random) -> str:
    """ISO 8601 UTC with 0 to 3 fractional digits, like the real field."""
    stamp = (f"{rng.randint(2019, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
             f"T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}")
    digits = rng.choice([0, 0, 1, 2, 3])
    return stamp + (f".{rng.randint(1, 10 ** digits - 1):0{digits}d}".rstrip("0") if digits else "") + "Z"
