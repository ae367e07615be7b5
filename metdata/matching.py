"""Link query photos to Met objects by their text: accession numbers, titles, artists, tags and dates.

Visitors name artworks the way people do: partial titles, misspellings, the artist only, hashtags
(``#VanGogh``, ``#starrynight``), accession numbers, other languages. Comparing every photo with every
object is impossible at the real scale (~480,000 objects x tens of thousands of photos), so matching
works in two steps:

1. **Blocking** (`MatchIndex.candidates`): an inverted index from normalised tokens of each object's
   title, artist and tags to objects. A photo's candidates are the objects that share its tokens,
   ranked by the summed inverse document frequency of the shared tokens (tokens in more than
   `max_postings` objects, such as "portrait", only score, never block); artist-name tokens always
   block; an accession number found in the text adds its object directly. Misspelt tokens are
   recovered against the index vocabulary with rapidfuzz (edit distance 1 or 2, by length) and
   run-together hashtags are split into vocabulary words.
2. **Scoring** (`score_candidate`): rapidfuzz's token_set_ratio of the object's title and artist
   against the photo's tokens (the title's scaled down when the shared words are common ones),
   combined as 0.6 x title + 0.35 x artist + 0.05 x (tags or date); an exact accession number or a
   metmuseum.org link scores 100.

Auto-accept rule (AUTO_ACCEPT_RULE): only the rank-1 candidate, only at or above the threshold
(default 90), only when the accession number matched or both title and artist matched at or above
the threshold, and only when no other candidate has the same score.
"""

from __future__ import annotations

import csv
import html
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow.compute as pc
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from metdata import manifests
from metdata.errors import UserError

AUTO_ACCEPT_MIN_SCORE = 90.0
AUTO_ACCEPT_RULE = (
    "rank 1, score >= threshold, accession number matched or title and artist both >= threshold, "
    "and no other candidate with the same score"
)
WEIGHTS = {"title": 0.6, "artist": 0.35, "extra": 0.05}  # extra = object tags or date
FIELD_MATCH_MIN = 80.0  # a field counts in `matched_on` at or above this score
ARTIST_KEY_SCORE = 90.0  # the artist field's score when the photo names the artist's distinctive token
SPECIFIC_IDF_SHARE = 0.6  # shared title words whose idf reaches this share of a unique word's fully count

# Function words (English and the languages visitors often write in) and museum boilerplate.
_STOP_WORDS_TEXT = """
    a an and are as at be by for from has have he her his i in is it its me my of on or our she so that the
    their this to was we with you your at by my not no yes all any very just also
    le la les un une des du de et au aux en el los las y del al lo il gli della di der die das den dem ein
    eine und von zu im am het een van de
    met metmuseum metropolitan museum museo musee art arts nyc newyork new york manhattan
    photo photos picture pic image img iphone canon nikon sony flickr visit visiting today gallery
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split()) - {
    "van",
    "de",
}  # name particles stay: "van gogh", "de hooch"

_HTML_TAG = re.compile(r"<[^>]+>")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_WORD = re.compile(r"[^0-9a-z]+")
# Accession numbers: 29.100.5, 1975.1.1, 43.106.1, 2001.194a-c, L.2019.12 (optionally after '#').
_ACCESSION = re.compile(
    r"(?<![\w.])#?((?:[a-z]{1,3}\.)?\d{1,4}(?:\.\d{1,5}){1,3}[a-z]{0,2}(?:-[a-z])?)(?![\w.])", re.IGNORECASE
)
_MET_URL = re.compile(
    r"metmuseum\.org/(?:art/collection/search|collection/the-collection-online/search)/(\d+)", re.IGNORECASE
)
_YEAR = re.compile(r"(?<!\d)(1[0-9]{3}|20[0-9]{2})(?!\d)")


def fold(text: str) -> str:
    """Casefold and strip accents (Cézanne -> cezanne), splitting camelCase first (#VanGogh -> van gogh)."""
    text = _CAMEL.sub(" ", text)
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).casefold()


def tokens(text: str) -> list[str]:
    """Normalised word tokens of free text: no HTML, hashtags' '#', punctuation, stop words or 1-letter words."""
    text = fold(html.unescape(_HTML_TAG.sub(" ", text or "")))
    return [t for t in _NON_WORD.split(text) if len(t) > 1 and t not in STOP_WORDS]


def normalise(text: str) -> str:
    return " ".join(tokens(text))


def accession_key(text: str) -> str:
    """The lookup form of an accession number: casefolded, no spaces."""
    return re.sub(r"\s+", "", (text or "").casefold())


def accession_base(key: str) -> str:
    """The number without part letters (2001.194a-c -> 2001.194), so a photo of one part finds the set."""
    return re.sub(r"[a-z]+(?:-[a-z]+)?$", "", key)


def accession_numbers(text: str) -> list[str]:
    """Accession-number-like tokens in free text, as lookup keys."""
    return [accession_key(m) for m in _ACCESSION.findall(text or "")]


def digit_key(key: str) -> str | None:
    """Flickr normalises tags to lowercase alphanumerics (29.100.5 -> 291005): the digits-only form."""
    digits = re.sub(r"\D", "", key)
    return f"#{digits}" if len(digits) >= 5 else None


def met_urls(text: str) -> list[int]:
    """Object ids of links to metmuseum.org object pages (descriptions often carry them)."""
    return [int(m) for m in _MET_URL.findall(text or "")]


def years(text: str) -> set[int]:
    return {int(y) for y in _YEAR.findall(text or "")}


def year_range(date: str) -> tuple[int, int] | None:
    """The span of 4-digit years in a Met objectDate ("ca. 1880-81" -> (1880, 1880)); None if none."""
    found = sorted(years(date))
    return (found[0], found[-1]) if found else None


@dataclass
class Query:
    """What matching needs from one query candidate (a row of manifests/queries.parquet)."""

    query_id: str
    title: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return " ".join([self.title or "", self.description or "", " ".join(f"#{t}" for t in self.tags)])


# Direct evidence that names one object, and the score it gives. A digits-only number (Flickr's form
# of a tagged accession number) may also be a date or a file number: shown, not auto-accepted (85 < 90).
DIRECT_SCORES = {"url": 100.0, "accession": 100.0, "accession_digits": 85.0}


@dataclass
class Candidate:
    index: int  # row in the MatchIndex
    block_score: float  # summed idf of shared tokens (ties and ordering)
    direct: str | None = None  # a key of DIRECT_SCORES when the text names this object directly


class MatchIndex:
    """Token, accession and vocabulary indexes over the Met objects a photo may be linked to."""

    def __init__(self, objects: Iterable[Mapping], max_postings: int = 25_000, max_candidates: int = 200):
        self.max_postings = max_postings
        self.max_candidates = max_candidates
        ids, self.titles, self.artists, self.tags, self.years = [], [], [], [], []
        self.accessions: dict[str, list[int]] = {}
        vocab: dict[str, int] = {}
        doc_tokens: list[np.ndarray] = []
        artist_vocab: set[str] = set()
        for i, obj in enumerate(objects):
            ids.append(int(obj["object_id"]))
            title, artist = normalise(obj.get("title") or ""), normalise(obj.get("artist") or "")
            tags = normalise(" ".join(obj.get("tags") or []))
            self.titles.append(title)
            self.artists.append(artist)
            self.tags.append(tags)
            self.years.append(year_range(obj.get("date") or ""))
            artist_vocab.update(artist.split())
            words = set(title.split()) | set(artist.split()) | set(tags.split())
            doc_tokens.append(
                np.fromiter((vocab.setdefault(w, len(vocab)) for w in words), np.int32, len(words))
            )
            key = accession_key(obj.get("accession_number") or "")
            if key:
                for k in {key, accession_base(key), digit_key(key)} - {None}:
                    self.accessions.setdefault(k, []).append(i)
        self.object_ids = np.asarray(ids, dtype=np.int64)
        self.row_of = {oid: i for i, oid in enumerate(ids)}
        self.vocab = vocab
        self.artist_tokens = frozenset(artist_vocab)
        # CSR postings: objects of token t are indices[indptr[t]:indptr[t + 1]].
        lengths = np.fromiter((len(d) for d in doc_tokens), np.int64, len(doc_tokens))
        flat = np.concatenate(doc_tokens) if doc_tokens else np.zeros(0, np.int32)
        owners = np.repeat(np.arange(len(doc_tokens), dtype=np.int32), lengths)
        order = np.argsort(flat, kind="stable")
        self.indices = owners[order]
        self.df = np.bincount(flat, minlength=len(vocab))
        self.indptr = np.concatenate([[0], np.cumsum(self.df)])
        n = max(len(ids), 1)
        self.idf = np.log1p(n / np.maximum(self.df, 1))
        # An artist's most distinctive name token ("gogh", "hokusai"): naming it names the artist.
        self.artist_keys: dict[str, frozenset[str]] = {}
        for artist in set(self.artists):
            idf = {w: self.idf[vocab[w]] for w in artist.split() if len(w) >= 3}
            if idf:
                top = max(idf.values())
                self.artist_keys[artist] = frozenset(w for w, v in idf.items() if v >= top - 1e-9)
        # Vocabulary by length, for recovering misspelt tokens.
        self._by_length: dict[int, list[str]] = {}
        for word in vocab:
            if len(word) >= 4 and not word.isdigit():
                self._by_length.setdefault(len(word), []).append(word)
        self._correct = lru_cache(maxsize=200_000)(self._correct_uncached)
        self._segment = lru_cache(maxsize=200_000)(self._segment_uncached)

    def __len__(self) -> int:
        return len(self.object_ids)

    def specificity(self, field: str, evidence: Evidence) -> float:
        """How telling the shared words are: 1 when their summed idf reaches SPECIFIC_IDF_SHARE of a
        unique word's, less for common words alone ("spring" fully covers the title "Spring", but
        thousands of titles contain it)."""
        shared = evidence.words.keys() & set(field.split())
        mass = sum(self.idf[self.vocab[w]] for w in shared)
        return min(1.0, mass / (SPECIFIC_IDF_SHARE * math.log1p(max(len(self), 1))))

    # -- query tokens -------------------------------------------------------------------------------
    def query_tokens(self, text: str) -> dict[str, float]:
        """The photo's tokens mapped onto the vocabulary, each with a trust factor (1 exact, <1 recovered)."""
        found: dict[str, float] = {}
        for word in tokens(text):
            for known, trust in self._recover(word):
                found[known] = max(found.get(known, 0.0), trust)
        return found

    def _recover(self, word: str) -> list[tuple[str, float]]:
        """Vocabulary words for one token: itself, its pieces (a run-together hashtag), or its correction."""
        if word in self.vocab:
            return [(word, 1.0)]
        if word.isdigit():
            return []
        long_enough = len(word) >= 6
        parts = self._segment(word, False) if long_enough else None
        if parts:
            return [(p, 0.9) for p in parts if p not in STOP_WORDS]
        fixed = self._correct(word)
        if fixed:
            return [(fixed, 0.8)]
        parts = self._segment(word, True) if long_enough else None
        return [(p, 0.8) for p in parts if p not in STOP_WORDS] if parts else []

    def _segment_uncached(self, word: str, fix_last: bool) -> tuple[str, ...] | None:
        """Split a run-together hashtag into vocabulary words (starrynight -> starry night), else None.

        Pieces (stop words included) are vocabulary words of 3+ letters or stop words; with `fix_last` the last piece may be
        misspelt (wheatfeild -> wheat field)."""
        for cut in range(len(word) - 1, 0, -1):  # longest known prefix first, backtracking
            head, tail = word[:cut], word[cut:]
            if not ((head in self.vocab and len(head) >= 3) or head in STOP_WORDS):
                continue
            if tail in self.vocab or tail in STOP_WORDS:
                rest: tuple[str, ...] | None = (tail,)
            else:
                rest = self._segment(tail, fix_last)
                if not rest and fix_last and self._correct(tail):
                    rest = (self._correct(tail),)
            if rest:
                return (head, *rest)
        return None

    def _correct_uncached(self, word: str) -> str | None:
        """The closest vocabulary word within 1 (5-7 letters) or 2 (8+) edits, a swap of neighbours counting as
        one (filed -> field); most frequent wins."""
        if len(word) < 5:
            return None
        max_edits = 1 if len(word) < 8 else 2
        best: tuple[int, int, str] | None = None
        for length in range(len(word) - max_edits, len(word) + max_edits + 1):
            bucket = self._by_length.get(length)
            if not bucket:
                continue
            for cand, dist, _ in process.extract(
                word, bucket, scorer=OSA.distance, score_cutoff=max_edits, limit=5
            ):
                key = (dist, -int(self.df[self.vocab[cand]]), cand)
                if best is None or key < best:
                    best = key
        return best[2] if best else None

    # -- blocking -----------------------------------------------------------------------------------
    def candidates(self, text: str, query_tokens: Mapping[str, float]) -> list[Candidate]:
        """Objects sharing rare-enough tokens or an artist token with the photo, or its accession number."""
        postings, weights = [], []
        for word, trust in query_tokens.items():
            t = self.vocab[word]
            start, end = self.indptr[t], self.indptr[t + 1]
            if end - start > self.max_postings and word not in self.artist_tokens:
                continue
            postings.append(self.indices[start:end])
            weights.append(np.full(end - start, self.idf[t] * trust))
        direct = self.direct_hits(text)
        chosen: dict[int, float] = {}
        if postings:
            flat, w = np.concatenate(postings), np.concatenate(weights)
            uniq, inverse = np.unique(flat, return_inverse=True)
            sums = np.bincount(inverse, weights=w)
            if len(uniq) > self.max_candidates:
                top = np.argpartition(-sums, self.max_candidates - 1)[: self.max_candidates]
                uniq, sums = uniq[top], sums[top]
            chosen = dict(zip(uniq.tolist(), sums.tolist()))
        for i in direct:
            chosen.setdefault(i, 0.0)
        return [Candidate(i, s, direct.get(i)) for i, s in chosen.items()]

    def direct_hits(self, text: str) -> dict[int, str]:
        """Objects the text names directly: a metmuseum.org link or an accession number (dotted or digits)."""
        hits: dict[int, str] = {}
        for oid in met_urls(text):
            if oid in self.row_of:
                hits[self.row_of[oid]] = "url"
        for key in accession_numbers(text):
            for i in self.accessions.get(key) or self.accessions.get(accession_base(key)) or []:
                hits.setdefault(i, "accession")
        for word in _NON_WORD.split(fold(text)):
            if word.isdigit():  # Flickr's normalised tag of a dotted number: 29.100.5 -> 291005
                key = digit_key(word)
                kind = "accession_digits"
            else:  # an undotted number such as JP1847
                key = word if any(c.isdigit() for c in word) else None
                kind = "accession"
            for i in self.accessions.get(key, []) if key else []:
                hits.setdefault(i, kind)
        return hits


@dataclass
class Evidence:
    """What one photo's text says, in the index's terms."""

    words: dict[str, float]  # vocabulary tokens -> trust (see MatchIndex.query_tokens)
    years: set[int]

    def __post_init__(self):
        self.joined = " ".join(sorted(self.words))


def _field_score(field: str, evidence: Evidence) -> float:
    """token_set_ratio of a field against the photo's words, 0 without a shared word.

    Unrelated strings still get ratios of 30-50, which would rank anonymous objects below objects
    whose (unmentioned) artist merely looks like the text; misspellings are already recovered."""
    if not field or evidence.words.keys().isdisjoint(field.split()):
        return 0.0
    return fuzz.token_set_ratio(field, evidence.joined)


def score_candidate(index: MatchIndex, cand: Candidate, evidence: Evidence) -> tuple[float, str, dict]:
    """Score one candidate 0..100; return (score, matched_on, per-field scores)."""
    i = cand.index
    title = _field_score(index.titles[i], evidence) * index.specificity(index.titles[i], evidence)
    artist = _field_score(index.artists[i], evidence)
    if index.artist_keys.get(index.artists[i], frozenset()) & evidence.words.keys():
        artist = max(artist, ARTIST_KEY_SCORE)
    tags = _field_score(index.tags[i], evidence)
    span = index.years[i]
    date = 100.0 if span and any(span[0] <= y <= span[1] for y in evidence.years) else 0.0
    direct = DIRECT_SCORES[cand.direct] if cand.direct else 0.0
    fields = {
        cand.direct or "accession": direct,
        "title": title,
        "artist": artist,
        "tags": tags,
        "date": date,
    }
    score = WEIGHTS["title"] * title + WEIGHTS["artist"] * artist + WEIGHTS["extra"] * max(tags, date)
    score = max(score, direct)
    matched_on = "+".join(name for name, s in fields.items() if s >= FIELD_MATCH_MIN) or "weak"
    return round(score, 2), matched_on, fields


def match_query(
    index: MatchIndex, query: Query, top_n: int = 10, auto_accept_min_score: float = AUTO_ACCEPT_MIN_SCORE
) -> list[dict]:
    """The top-N ranked candidate objects for one photo, as rows of the "matches" manifest."""
    text = query.text
    qtokens = index.query_tokens(text)
    cands = index.candidates(text, qtokens)
    if not cands:
        return []
    evidence = Evidence(qtokens, years(text))
    scored = []
    for cand in cands:
        score, matched_on, fields = score_candidate(index, cand, evidence)
        scored.append((-score, -cand.block_score, int(index.object_ids[cand.index]), matched_on, fields))
    scored.sort()
    rows = []
    for rank, (neg_score, _, object_id, matched_on, fields) in enumerate(scored[:top_n], start=1):
        score = -neg_score
        tied = len(scored) > 1 and scored[1][0] == neg_score
        strong = (
            any(fields.get(k, 0.0) >= auto_accept_min_score for k in DIRECT_SCORES)
            or min(fields["title"], fields["artist"]) >= auto_accept_min_score
        )
        rows.append(
            {
                "query_id": query.query_id,
                "object_id": object_id,
                "rank": rank,
                "score": score,
                "matched_on": matched_on,
                "auto_accept": rank == 1 and score >= auto_accept_min_score and strong and not tied,
            }
        )
    return rows


def recall_at(matches: Iterable[Mapping], truth: Mapping[str, int], k: int) -> float:
    """Share of photos with a true object whose true object is among their top-k candidates (NaN if none)."""
    if not truth:
        return math.nan
    hits = {(m["query_id"], int(m["object_id"])) for m in matches if m["rank"] <= k}
    return sum((q, o) in hits for q, o in truth.items()) / len(truth)


# -- dataset roots ------------------------------------------------------------------------------------
@dataclass
class MatchSummary:
    n_objects: int  # objects matched against
    query_ids: list[str]  # the kept query photos matched
    n_with_candidate: int  # photos with at least one candidate
    n_auto_accepted: int
    path: str  # the matches manifest written
    rows: list[dict]


MATCHED_COLUMNS = ["object_id", "title", "artist", "date", "accession_number", "tags"]


def linkable_objects(root) -> list[dict]:
    """Objects a photo may be linked to: crawled ("ok") and with at least one kept exhibit image."""
    objects = manifests.read(manifests.manifest_path(root, "objects"), "objects")
    objects = objects.filter(pc.equal(objects["status"], "ok"))
    exhibits_path = manifests.manifest_path(root, "exhibits")
    if exhibits_path.exists():
        exhibits = manifests.read(exhibits_path, "exhibits")
        with_images = exhibits.filter(pc.equal(exhibits["status"], "kept"))["object_id"].unique()
        objects = objects.filter(pc.is_in(objects["object_id"], with_images))
    return objects.select(MATCHED_COLUMNS).to_pylist()


def kept_queries(root) -> list[Query]:
    """The query candidates whose photo was kept (only those can become benchmark queries)."""
    table = manifests.read(manifests.manifest_path(root, "queries"), "queries")
    return [
        Query(r["query_id"], r["title"] or "", r["description"] or "", tuple(r["tags"] or ()))
        for r in table.to_pylist()
        if r["status"] == "kept"
    ]


def match_root(
    root, top_n: int = 10, auto_accept_min_score: float = AUTO_ACCEPT_MIN_SCORE, progress=None
) -> MatchSummary:
    """Match every kept query photo of a dataset root and write manifests/matches.parquet."""
    index = MatchIndex(linkable_objects(root))
    queries = kept_queries(root)
    rows: list[dict] = []
    with_candidate = 0
    for query in progress(queries) if progress else queries:
        found = match_query(index, query, top_n, auto_accept_min_score)
        with_candidate += bool(found)
        rows.extend(found)
    path = manifests.write(
        rows,
        manifests.manifest_path(root, "matches"),
        "matches",
        metadata={"top_n": top_n, "auto_accept_min_score": auto_accept_min_score, "rule": AUTO_ACCEPT_RULE},
    )
    return MatchSummary(
        n_objects=len(index),
        query_ids=[q.query_id for q in queries],
        n_with_candidate=with_candidate,
        n_auto_accepted=sum(r["auto_accept"] for r in rows),
        path=str(path),
        rows=rows,
    )


# -- ground truth -------------------------------------------------------------------------------------
@dataclass
class GroundTruth:
    objects: dict[str, int]  # query_id -> the object it shows (photos of nothing are left out)
    names_artwork: set[str]  # query_ids whose text names the artwork


def read_ground_truth(path) -> GroundTruth:
    """A CSV with columns query_id, object_id (empty: shows nothing linkable) and optional names_artwork."""
    truth, names = {}, set()
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"query_id", "object_id"} <= set(reader.fieldnames):
                raise UserError(f"{path}: ground truth needs the columns query_id,object_id[,names_artwork]")
            for line, row in enumerate(reader, start=2):
                oid = (row["object_id"] or "").strip()
                if oid and not oid.isdigit():
                    raise UserError(f"{path}:{line}: object_id {oid!r} is not a number")
                if oid:
                    truth[row["query_id"]] = int(oid)
                if (row.get("names_artwork") or "").strip().lower() in {"1", "true", "yes"}:
                    names.add(row["query_id"])
    except OSError as exc:
        raise UserError(f"{path}: cannot read the ground truth ({exc.strerror})") from None
    return GroundTruth(truth, names)


def write_ground_truth(path, rows: Iterable[tuple[str, int | None, bool]]) -> None:
    """Write (query_id, object_id or None, names_artwork) rows in the format read_ground_truth reads."""
    with manifests.atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["query_id", "object_id", "names_artwork"])
        for query_id, object_id, names in rows:
            writer.writerow([query_id, "" if object_id is None else object_id, int(bool(names))])


def recall_report(rows: list[dict], truth: GroundTruth, query_ids: Iterable[str]) -> dict[str, float]:
    """recall@1 and @10 over the matched photos (`query_ids`) of an object, and over those whose text
    names the artwork; photos not matched (not kept) are left out."""
    matched = set(query_ids)
    objects = {q: o for q, o in truth.objects.items() if q in matched}
    named = {q: o for q, o in objects.items() if q in truth.names_artwork}
    return {
        "recall@1": recall_at(rows, objects, 1),
        "recall@10": recall_at(rows, objects, 10),
        "names_artwork_recall@1": recall_at(rows, named, 1),
        "names_artwork_recall@10": recall_at(rows, named, 10),
        "n_truth": len(objects),
        "n_names_artwork": len(named),
    }


def sample_ground_truth(world, root) -> list[tuple[str, int | None, bool]]:
    """(query_id, object_id, names_artwork) of a root's query photos crawled from the sample museum `world`.

    The sample generator knows what each Flickr photo and own photo shows; this maps it onto the
    query ids of queries.parquet, for `write_ground_truth` and `metdata match --ground-truth`.
    """
    known = {("flickr", p.photo_id): (p.object_id, p.names_artwork) for p in world.photos}
    known.update({("own", o.file_name): (o.object_id, False) for o in world.own_photos})
    table = manifests.read(manifests.manifest_path(root, "queries"), "queries")
    return [
        (row["query_id"], *known[(row["source"], row["photo_id"])])
        for row in table.select(["query_id", "source", "photo_id"]).to_pylist()
        if (row["source"], row["photo_id"]) in known
    ]
