"""`metdata match`: text normalisation, blocking, scoring, the auto-accept rule, recall on the sample museum."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys

import pytest

from metdata import manifests
from metdata.errors import UserError
from metdata.matching import (
    MatchIndex,
    Query,
    accession_numbers,
    match_query,
    match_root,
    read_ground_truth,
    sample_ground_truth,
    tokens,
    write_ground_truth,
)

OBJECTS = [
    {"object_id": 1, "title": "The Great Wave off Kanagawa", "artist": "Katsushika Hokusai", "date": "ca. 1830–32",
     "accession_number": "JP1847", "tags": ["Waves", "Boats"]},
    {"object_id": 2, "title": "Wheat Field with Cypresses", "artist": "Vincent van Gogh", "date": "1889",
     "accession_number": "1993.132", "tags": ["Landscapes"]},
    {"object_id": 3, "title": "Self-Portrait with a Straw Hat", "artist": "Vincent van Gogh", "date": "1887",
     "accession_number": "67.187.70a", "tags": ["Portraits"]},
    {"object_id": 4, "title": "Washington Crossing the Delaware", "artist": "Emanuel Leutze", "date": "1851",
     "accession_number": "97.34", "tags": ["Boats"]},
    {"object_id": 5, "title": "Vase", "artist": None, "date": "1800", "accession_number": "29.100.5", "tags": []},
    {"object_id": 6, "title": "Vase", "artist": None, "date": "1790", "accession_number": "29.100.6", "tags": []},
    {"object_id": 7, "title": "The Card Players", "artist": "Paul Cézanne", "date": "1890–92",
     "accession_number": "61.101.1", "tags": ["Men"]},
]  # fmt: skip


@pytest.fixture(scope="module")
def index():
    return MatchIndex(OBJECTS)


def best(index, title="", description="", tags=()):
    rows = match_query(index, Query("q", title, description, tuple(tags)))
    return rows[0] if rows else None


def test_tokens_fold_accents_hashtags_camel_case_html_and_museum_words():
    assert tokens("Paul Cézanne at #TheMet, the Metropolitan Museum") == ["paul", "cezanne"]
    assert tokens("#VanGogh #StarryNight") == ["van", "gogh", "starry", "night"]
    assert tokens('See <a href="x">the &amp; Card Players</a>!') == ["see", "card", "players"]


def test_accession_numbers_are_found_in_free_text():
    text = "Accession number 29.100.5; also #1975.1.1 and L.2019.12, not 3 or 1889"
    assert accession_numbers(text) == ["29.100.5", "1975.1.1", "l.2019.12"]
    assert accession_numbers("2001.194a-c here") == ["2001.194a-c"]


@pytest.mark.parametrize(
    ("title", "description", "tags", "object_id", "matched_on"),
    [
        ("Washington Crossing the Delaware, Emanuel Leutze", "", [], 4, "title+artist"),
        ("Washingon Crosing the Delaware", "", [], 4, "title"),  # two misspellings
        ("Museum day", "#vincentvangogh #wheatfieldwithcypresses #metmuseum", [], 2, "title+artist"),
        ("Detail", "Accession number 67.187.70", [], 3, "accession"),  # the set's base number
        ("Gallery 800", "", ["291005"], 5, "accession_digits"),  # Flickr's normalised tag of 29.100.5
        ("this!!", 'See <a href="https://www.metmuseum.org/art/collection/search/7">link</a>', [], 7, "url"),
        ("«Card Players» de Paul Cézanne, Metropolitan Museum", "", [], 7, "title+artist"),
        ("great wave", "", ["hokusai"], 1, None),
    ],
)
def test_the_ways_visitors_name_an_artwork_find_it_first(
    index, title, description, tags, object_id, matched_on
):
    row = best(index, title, description, tags)
    assert row["object_id"] == object_id
    if matched_on:
        assert row["matched_on"].startswith(matched_on)


def test_auto_accept_needs_a_direct_match_or_strong_title_and_artist_and_no_tie(index):
    assert best(index, "Washington Crossing the Delaware by Emanuel Leutze")["auto_accept"]
    assert best(index, "Met 29.100.5")["auto_accept"]
    assert not best(index, "Gallery 800", tags=["291005"])["auto_accept"]  # digits only: maybe a date
    assert not best(index, "Love Emanuel Leutze!")["auto_accept"]  # artist only
    assert not best(index, "great wave")["auto_accept"]  # partial title only
    rows = match_query(index, Query("q", "a vase"))  # two objects titled "Vase", no artist
    assert {r["object_id"] for r in rows} == {5, 6}
    assert rows[0]["score"] == rows[1]["score"] and not any(r["auto_accept"] for r in rows)
    rows = match_query(index, Query("q", "Washington Crossing the Delaware by Emanuel Leutze"), 10, 99.0)
    assert not rows[0]["auto_accept"]  # the threshold is an option


def test_a_title_covered_by_one_common_word_does_not_beat_a_rare_shared_word():
    objects = [{"object_id": i, "title": f"Spring Landscape {i}"} for i in range(50)]
    objects += [{"object_id": 100, "title": "Spring"}, {"object_id": 101, "title": "Cypresses near Arles"}]
    rows = match_query(MatchIndex(objects), Query("q", "cypresses, on a spring walk"))
    assert [r["object_id"] for r in rows[:2]] == [101, 100]


def test_text_that_names_nothing_has_no_candidates(index):
    assert best(index, "Lunch break", "coffee time", ["nyc", "streetphotography"]) is None


def test_blocking_skips_common_tokens_but_not_artist_names_and_caps_candidates():
    objects = [{"object_id": i, "title": f"Portrait of a Man {i}", "artist": "Frans Hals" if i < 100 else f"P{i}"}
               for i in range(400)]  # fmt: skip
    objects.append({"object_id": 999, "title": "Portrait of Juan de Pareja", "artist": "Velázquez"})
    index = MatchIndex(objects, max_postings=50, max_candidates=30)

    def candidate_ids(text):
        return {int(index.object_ids[c.index]) for c in index.candidates(text, index.query_tokens(text))}

    assert candidate_ids("Portrait of Juan de Pareja") == {999}  # "portrait" (401 objects) never blocks
    assert candidate_ids("a portrait") == set()
    hals = candidate_ids("Frans Hals")  # in 100 objects, but an artist's name always blocks ...
    assert len(hals) == 30 and hals < set(range(100))  # ... up to the cap


# -- the command on dataset roots ---------------------------------------------------------------------
def write_sample_manifests(world, root):
    """objects.parquet and queries.parquet as the crawls write them, straight from the sample world."""
    objects = []
    for object_id, obj in world.objects.items():
        record = obj.record
        if not obj.listed or not record.get("isPublicDomain"):
            continue
        objects.append(
            {"object_id": object_id, "title": record.get("title") or None,
             "artist": record.get("artistDisplayName") or None, "date": record.get("objectDate") or None,
             "accession_number": record.get("accessionNumber") or None,
             "tags": [t["term"] for t in record.get("tags") or []], "status": "ok"}
        )  # fmt: skip
    queries = [
        {"query_id": hashlib.sha1(p.photo_id.encode()).hexdigest()[:12], "source": "flickr", "photo_id": p.photo_id,
         "title": p.title, "description": p.description, "tags": p.tags, "status": "kept"}
        for p in world.photos
    ]  # fmt: skip
    manifests.write(objects, manifests.manifest_path(root, "objects"), "objects")
    manifests.write(queries, manifests.manifest_path(root, "queries"), "queries")


def run_metdata(*argv):
    return subprocess.run(
        [sys.executable, "-m", "metdata.cli", *argv], check=False, capture_output=True, text=True, timeout=120
    )


def test_match_on_the_sample_museum_reaches_the_recall_target(world, tmp_path):
    root = tmp_path / "root"
    write_sample_manifests(world, root)
    truth_csv = tmp_path / "truth.csv"
    write_ground_truth(truth_csv, sample_ground_truth(world, root))
    proc = run_metdata("match", "--root", str(root), "--ground-truth", str(truth_csv))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    n_photos = len(world.photos)
    assert f"query photos: {n_photos}" in out
    with_candidate = int(re.search(r"photos with at least one candidate: (\d+)", out).group(1))
    named = sum(p.names_artwork for p in world.photos)
    assert named <= with_candidate < n_photos  # the no-art photos find nothing
    r1, r10 = map(
        float, re.search(r"text names the artwork: recall@1 ([\d.]+)  recall@10 ([\d.]+)", out).groups()
    )
    assert r10 >= 0.9 and r1 >= 0.8, out
    matches = manifests.read(manifests.manifest_path(root, "matches"), "matches").to_pylist()
    truth = read_ground_truth(truth_csv).objects
    auto = [m for m in matches if m["auto_accept"]]
    assert auto and all(truth.get(m["query_id"]) == m["object_id"] for m in auto)  # auto-accepts are right
    assert all(m["rank"] == 1 for m in auto) and all(m["score"] >= 90 for m in auto)
    assert max(m["rank"] for m in matches) <= 10


def test_match_refuses_missing_manifests_and_bad_ground_truth_in_one_line(world, tmp_path):
    proc = run_metdata("match", "--root", str(tmp_path / "empty"))
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == f"Error: {tmp_path / 'empty' / 'manifests' / 'objects.parquet'}: no such manifest"
    )
    bad = tmp_path / "truth.csv"
    bad.write_text("query_id,object_id\nabc,12\ndef,twelve\n")
    with pytest.raises(UserError, match=r"truth\.csv:3: object_id 'twelve' is not a number"):
        read_ground_truth(bad)
    bad.write_text("photo,object\n")
    proc = run_metdata("match", "--root", str(tmp_path), "--ground-truth", str(bad))
    assert proc.returncode == 2 and "needs the columns query_id,object_id" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_match_root_writes_only_kept_photos_against_objects_with_kept_images(tmp_path):
    root = tmp_path / "root"
    manifests.write(
        [dict(o, status="ok") for o in OBJECTS], manifests.manifest_path(root, "objects"), "objects"
    )
    exhibits = [{"object_id": o["object_id"], "image_index": 0, "status": "kept" if o["object_id"] != 4 else "too_small"}
                for o in OBJECTS]  # fmt: skip
    manifests.write(exhibits, manifests.manifest_path(root, "exhibits"), "exhibits")
    queries = [
        {"query_id": "000000000001", "title": "Washington Crossing the Delaware", "status": "kept"},
        {"query_id": "000000000002", "title": "The Card Players, Cézanne", "status": "kept"},
        {"query_id": "000000000003", "title": "The Card Players, Cézanne", "status": "license_not_free"},
    ]
    manifests.write(queries, manifests.manifest_path(root, "queries"), "queries")
    summary = match_root(root)
    assert (summary.n_objects, len(summary.query_ids), summary.n_with_candidate) == (6, 2, 1)
    rows = manifests.read(manifests.manifest_path(root, "matches"), "matches").to_pylist()
    assert [(r["query_id"], r["object_id"], r["rank"]) for r in rows] == [("000000000002", 7, 1)]
    meta = manifests.read_metadata(manifests.manifest_path(root, "matches"))
    assert meta["auto_accept_min_score"] == 90.0 and "rank 1" in meta["rule"]


@pytest.mark.slow
def test_end_to_end_on_the_crawled_sample_museum(world, sample_server, tmp_path):
    """crawl met + crawl flickr (the real commands) -> match with the generator's truth -> review page items.

    The Met crawl takes the objects the photos show plus 60 others (rendering every studio view of the
    whole sample takes most of a minute); the whole collection is matched in the test above."""
    from metdata.cli import main
    from metdata.met_crawl import HttpParams, Selection, crawl_met
    from metdata.review.app import ReviewData
    from metdata.review.store import DecisionStore

    root = tmp_path / "root"
    shown = {p.object_id for p in world.photos if p.object_id is not None}
    others = sorted(set(world.objects) - shown)[:60]
    crawl_met(root, sample_server.met_api_url, Selection(object_ids=tuple(sorted(shown | set(others)))),
              http_params=HttpParams(rate_per_s=1000, workers=4), progress=False)  # fmt: skip
    users = tmp_path / "users.txt"
    users.write_text("\n".join(p.nsid for p in world.photographers))
    main(["crawl", "flickr", "--out", str(root), "--api-key", "k", "--api-secret", "s", "--user-ids-file", str(users),
          "--rest-url", sample_server.flickr_rest_url, "--rate-per-s", "1000", "--image-rate-per-s", "1000",
          "--no-progress"])  # fmt: skip
    truth_csv = tmp_path / "truth.csv"
    write_ground_truth(truth_csv, sample_ground_truth(world, root))
    proc = run_metdata("match", "--root", str(root), "--ground-truth", str(truth_csv))
    assert proc.returncode == 0, proc.stderr
    r1, r10 = map(
        float,
        re.search(r"text names the artwork: recall@1 ([\d.]+)  recall@10 ([\d.]+)", proc.stdout).groups(),
    )
    assert r10 >= 0.9 and r1 >= 0.8, proc.stdout
    kept = [
        q
        for q in manifests.read(manifests.manifest_path(root, "queries"), "queries").to_pylist()
        if q["status"] == "kept"
    ]
    assert f"query photos: {len(kept)}" in proc.stdout
    data = ReviewData(root)
    page = data.page(0, 5, DecisionStore(root))
    assert page["total"] == len(kept)
    first = page["items"][0]
    assert first["candidates"] and first["candidates"][0]["images"]  # candidates come with exhibit thumbnails
    assert (
        data.image_path(first["image"].split("?")[0].split("/")[2:])
        == f"images/test_met/{first['item_id']}.jpg"
    )
