"""Text matching speed: the whole sample museum, and a synthetic collection at the real Met's scale.

`metdata match` never compares every photo with every object: a token index proposes candidates
(blocking) and rapidfuzz scores only those. This script times it on

1. the sample museum (index + match of every photo, with recall against the generator's truth), and
2. a synthetic collection of --n-objects objects (Zipf-distributed title words, ~30k artists with a
   long tail, 40% anonymous, accession numbers) and --n-queries visitor texts made from random
   objects in the sample's styles (full/partial/misspelt title, artist only, accession, hashtags),

and compares (2) with the all-pairs peer: rapidfuzz's own `process.extractOne` of the photo text
over every title (WRatio, one core), timed on --n-brute-force photos and extrapolated.

    .venv/bin/python benchmark/bench_match.py                                   # 480k objects, 20k photos
    .venv/bin/python benchmark/bench_match.py --n-objects 50000 --n-queries 2000 # a quick look
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from rapidfuzz import fuzz, process

from metdata.matching import (
    MatchIndex,
    Query,
    match_query,
    match_root,
    read_ground_truth,
    recall_at,
    recall_report,
    sample_ground_truth,
    write_ground_truth,
)

SYLLABLES = [
    "ka",
    "ro",
    "mi",
    "ten",
    "sa",
    "lo",
    "ve",
    "ri",
    "an",
    "del",
    "mor",
    "tu",
    "bel",
    "gra",
    "fi",
    "no",
    "star",
    "cas",
    "pe",
    "lin",
    "dor",
    "ho",
    "ze",
    "qua",
    "vi",
    "ul",
    "mes",
    "tra",
]
COMMON = ["portrait", "man", "woman", "landscape", "vase", "bowl", "plate", "figure", "head", "study", "river", "view", "still", "life", "saint", "madonna", "child", "cup", "fragment", "panel", "textile", "bottle", "box", "seated", "standing", "young", "old"]  # fmt: skip
TEMPLATES = [
    "{c} of {w}",
    "{w} {w}",
    "{c} with {w} and {w}",
    "{w} {c}",
    "The {w} of {w}",
    "{c}",
    "{w} {w} {w}",
]


def pseudo_words(rng: random.Random, n: int) -> list[str]:
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def synthetic_objects(n: int, seed: int = 0) -> list[dict]:
    """Objects with Met-like text statistics: Zipf title words, a long tail of artists, shared accessions styles."""
    rng = random.Random(seed)
    vocab = pseudo_words(rng, 60_000)
    weights = [1 / (r + 1) ** 1.05 for r in range(len(vocab))]
    first, last = pseudo_words(rng, 3_000), pseudo_words(rng, 20_000)
    artists = [f"{rng.choice(first).title()} {rng.choice(last).title()}" for _ in range(30_000)]
    artist_weights = [1 / (r + 1) ** 0.9 for r in range(len(artists))]
    title_words = iter(rng.choices(vocab, weights, k=n * 4))
    objects = []
    for i in range(n):
        template = rng.choice(TEMPLATES)
        title = template.replace("{c}", rng.choice(COMMON).title(), 1)
        while "{w}" in title:
            title = title.replace("{w}", next(title_words, "vase").title(), 1)
        artist = rng.choices(artists, artist_weights)[0] if rng.random() < 0.6 else None
        objects.append({
            "object_id": 100_000 + i, "title": title, "artist": artist, "date": str(rng.randint(1400, 1950)),
            "accession_number": f"{rng.randint(10, 2020)}.{rng.randint(1, 400)}.{rng.randint(1, 50)}",
            "tags": rng.sample(COMMON, 2),
        })  # fmt: skip
    return objects


def misspell(rng: random.Random, text: str) -> str:
    words = text.split()
    long_ones = [i for i, w in enumerate(words) if len(w) > 4]
    if long_ones:
        i = rng.choice(long_ones)
        j = rng.randint(1, len(words[i]) - 2)
        words[i] = words[i][:j] + words[i][j + 1 :]
    return " ".join(words)


def synthetic_queries(objects: list[dict], n: int, seed: int = 1) -> tuple[list[Query], dict[str, int]]:
    rng = random.Random(seed)
    queries, truth = [], {}
    for k, obj in enumerate(rng.sample(objects, n)):
        title, artist = obj["title"], obj["artist"] or ""
        style = rng.choice(["full", "partial", "misspelled", "accession", "hashtags", "artist"])
        if style == "artist" and not artist:
            style = "full"
        words = title.split()
        text = {
            "full": f"{title}, {artist}",
            "partial": " ".join(words[-2:]),
            "misspelled": misspell(rng, f"{title} {artist}"),
            "accession": f"Met {obj['accession_number']}",
            "hashtags": " ".join("#" + "".join(w.lower() for w in s.split()) for s in (title, artist) if s),
            "artist": f"{artist} at the Met",
        }[style]
        qid = f"{k:012x}"
        queries.append(Query(qid, text, "At the #MetMuseum today", ("nyc", "museum")))
        truth[qid] = obj["object_id"]
    return queries, truth


def timed(fn):
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def sample_museum() -> None:
    """The whole sample museum, manifests written from the world as in tests/test_matching.py."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_matching import write_sample_manifests

    from metdata.sample.world import build_world

    world = build_world(seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        write_sample_manifests(world, tmp)
        truth_csv = Path(tmp) / "truth.csv"
        write_ground_truth(truth_csv, sample_ground_truth(world, tmp))
        summary, cpu, wall = timed(lambda: match_root(tmp))
        report = recall_report(summary.rows, read_ground_truth(truth_csv), summary.query_ids)
    print(f"sample museum: {summary.n_objects} objects, {len(summary.query_ids)} photos: "
          f"{wall:.2f} s wall ({cpu:.2f} s CPU) for index + match + write")  # fmt: skip
    print(f"  recall@1 {report['recall@1']:.3f} recall@10 {report['recall@10']:.3f}; text names the artwork "
          f"({report['n_names_artwork']}): recall@1 {report['names_artwork_recall@1']:.3f} "
          f"recall@10 {report['names_artwork_recall@10']:.3f}")  # fmt: skip


def scaled(n_objects: int, n_queries: int, n_brute: int) -> None:
    objects = synthetic_objects(n_objects)
    queries, truth = synthetic_queries(objects, n_queries)
    index, cpu, wall = timed(lambda: MatchIndex(objects))
    print(f"synthetic: {n_objects} objects, {len(index.vocab)} distinct tokens: index built in {cpu:.1f} s CPU "
          f"({wall:.1f} s wall)")  # fmt: skip
    rows, cpu, wall = timed(lambda: [r for q in queries for r in match_query(index, q)])
    ours_ms = 1000 * cpu / n_queries
    print(f"  {n_queries} photos matched in {cpu:.1f} s CPU ({wall:.1f} s wall): {ours_ms:.2f} cpu-ms per photo; "
          f"recall@1 {recall_at(rows, truth, 1):.3f} recall@10 {recall_at(rows, truth, 10):.3f}")  # fmt: skip
    titles = [o["title"] for o in objects]
    sample = queries[:n_brute]
    hits, cpu, wall = timed(
        lambda: [process.extractOne(q.title, titles, scorer=fuzz.WRatio, score_cutoff=0) for q in sample]
    )
    brute_ms = 1000 * cpu / n_brute
    brute_hits = sum(objects[hit[2]]["object_id"] == truth[q.query_id] for q, hit in zip(sample, hits))
    print(f"  all-pairs peer (rapidfuzz extractOne WRatio over every title, {n_brute} photos): {brute_ms:.0f} cpu-ms "
          f"per photo, recall@1 {brute_hits / n_brute:.3f}; {n_queries} photos would take "
          f"{brute_ms * n_queries / 1000:.0f} cpu-s")  # fmt: skip
    print(f"  blocked : all-pairs CPU time per photo = 1 : {brute_ms / ours_ms:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-objects", type=int, default=480_000)
    parser.add_argument("--n-queries", type=int, default=20_000)
    parser.add_argument("--n-brute-force", type=int, default=20, help="photos timed with the all-pairs peer")
    parser.add_argument("--skip-sample", action="store_true")
    args = parser.parse_args()
    if not args.skip_sample:
        sample_museum()
    scaled(args.n_objects, args.n_queries, args.n_brute_force)


if __name__ == "__main__":
    main()
