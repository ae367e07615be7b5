"""build-splits: grouping by photographer and object, proportions, determinism, refusals, the table."""

import pytest

from metdata import manifests
from metdata.bench.splits import build_splits, choose_val_groups, format_table
from metdata.cli import main
from metdata.errors import UserError
from metdata.review.store import DecisionStore

N_OBJECTS = 30


def hexid(prefix: str, i: int) -> str:
    return f"{prefix}{i:011x}"


def query(i, photographer, object_id, status="kept", source="flickr"):
    qid = hexid("a", i)
    return {"query_id": qid, "source": source, "photographer": photographer, "met_object_id": object_id,
            "status": status, "path": f"images/test_met/{qid}.jpg" if status == "kept" else None,
            "page_url": f"https://flickr.example/{i}"}


def make_root(root, queries, n_art=40, n_noart=30):
    exhibits = [{"object_id": o, "image_index": n, "status": "kept", "path": f"images/MET/{o}/{n}.jpg",
                 "phash": f"{o:08x}{n:08x}"} for o in range(N_OBJECTS) for n in range(2)]
    exhibits.append({"object_id": 999, "image_index": 0, "status": "aspect_ratio", "path": None})
    manifests.write(exhibits, manifests.manifest_path(root, "exhibits"), "exhibits")
    manifests.write(queries, manifests.manifest_path(root, "queries"), "queries")
    distractors = [
        {"distractor_id": hexid("d" if kind == "art" else "e", i), "kind": kind, "status": "kept",
         "category": "Paintings" if kind == "art" else "Cars", "source_page": f"https://commons.example/{i}",
         "path": f"images/{'test_other' if kind == 'art' else 'test_noart'}/{hexid('d' if kind == 'art' else 'e', i)}.jpg"}
        for kind, n in (("art", n_art), ("noart", n_noart)) for i in range(n)
    ]
    distractors.append({"distractor_id": hexid("f", 0), "kind": "art", "status": "met_copy", "path": None})
    manifests.write(distractors, manifests.manifest_path(root, "distractors"), "distractors")
    return root


def many_photographers():
    """12 photographers, each with 4 photos of its own two objects; p0 and p1 share object 1."""
    rows, i = [], 0
    for p in range(12):
        for n in range(4):
            rows.append(query(i, f"p{p}", 2 * p + n % 2))
            i += 1
    rows.append(query(i, "p1", 1))  # links p0's and p1's groups through object 1
    rows.append(query(i + 1, "p5", None))  # not linked: not a Met query
    rows.append(query(i + 2, "p6", 12, status="duplicate"))
    rows.append(query(i + 3, "p7", 500))  # object without exhibits
    rows.append(query(i + 4, None, 28, source="own"))
    return rows


def read_splits(root):
    return {s: manifests.read(manifests.split_path(root, s), manifests.SPLIT_SCHEMAS[s]).to_pylist()
            for s in ("train", "val", "test")}


def test_split_rules_hold(tmp_path):
    summary = build_splits(make_root(tmp_path, many_photographers()), val_fraction=0.2, seed=0)
    splits = read_splits(tmp_path)
    assert len(splits["train"]) == 2 * N_OBJECTS
    assert {r["key"] for r in splits["train"]} == {f"MET/{o}/{n}.jpg" for o in range(N_OBJECTS) for n in range(2)}
    met = {s: [r for r in splits[s] if r["kind"] == "met"] for s in ("val", "test")}
    for column in ("photographer", "met_id"):
        assert not {r[column] for r in met["val"]} & {r[column] for r in met["test"]}
    n_met = len(met["val"]) + len(met["test"])
    assert n_met == 12 * 4 + 1 + 1  # kept and linked to a kept exhibit; the unknown photographer counts
    assert abs(len(met["val"]) - 0.2 * n_met) <= 4  # within one photographer group of the target
    for kind, n in (("other", 40), ("noart", 30)):
        assert sum(r["kind"] == kind for r in splits["val"]) == round(0.2 * n)
        assert sum(r["kind"] == kind for r in splits["test"]) == n - round(0.2 * n)
    p0 = next(s for s in ("val", "test") if any(r["photographer"] == "p0" for r in met[s]))
    assert any(r["photographer"] == "p1" for r in met[p0])  # joined through their shared object
    assert summary.table["val"]["met_queries"] == len(met["val"])
    assert summary.table["test"]["photographers"] == len({r["photographer"] for r in met["test"]})
    assert summary.leaks == {"queries": 0, "distractors": 1}
    assert any("no kept exhibit" in note for note in summary.notes)
    assert all(r["key"].startswith(("test_met/", "test_other/", "test_noart/")) for s in ("val", "test")
               for r in splits[s])
    names = [r["key"].rsplit("/", 1)[1] for r in splits["test"]]
    assert names == sorted(names)  # by file name, so Met queries and distractors interleave in ties


def test_same_seed_same_splits_other_seed_other_splits(tmp_path):
    roots = [make_root(tmp_path / name, many_photographers()) for name in ("a", "b", "c")]
    build_splits(roots[0], seed=1)
    build_splits(roots[1], seed=1)
    build_splits(roots[2], seed=2)
    a, b, c = (read_splits(r) for r in roots)
    assert a == b
    assert a["val"] != c["val"]


def test_near_copies_of_exhibits_are_flagged_and_left_out(tmp_path):
    queries = many_photographers()
    queries[3]["phash"] = f"{5:08x}{1:08x}"  # the studio image of object 5 re-hosted as a "visitor photo"
    summary = build_splits(make_root(tmp_path, queries))
    assert summary.leaks == {"queries": 1, "distractors": 1}
    keys = {r["key"] for s in ("val", "test") for r in read_splits(tmp_path)[s]}
    assert f"test_met/{queries[3]['query_id']}.jpg" not in keys
    flagged = manifests.read(manifests.manifest_path(tmp_path, "queries"), "queries").to_pylist()[3]
    assert flagged["status"] == "leak" and flagged["duplicate_of"] == "images/MET/5/1.jpg"


def test_review_decisions_are_applied(tmp_path):
    root = make_root(tmp_path, many_photographers())
    store = DecisionStore(root)
    unlinked = hexid("a", 49)  # p5's unlinked photo
    store.decide("query", unlinked, "accept", 10)
    store.decide("query", hexid("a", 0), "reject")
    store.decide("distractor", hexid("d", 3), "reject")
    build_splits(root)
    keys = {r["key"]: r for s in ("val", "test") for r in read_splits(root)[s]}
    assert keys[f"test_met/{unlinked}.jpg"]["met_id"] == 10
    assert f"test_met/{hexid('a', 0)}.jpg" not in keys
    assert f"test_other/{hexid('d', 3)}.jpg" not in keys


def test_choose_val_groups_is_near_target_and_never_empty():
    chosen = choose_val_groups([5] * 20, 0.1, seed=0)
    assert len(chosen) == 2
    assert len(choose_val_groups([100, 1], 0.1, seed=0)) == 1  # val never empty, test never empty
    assert choose_val_groups([1, 1], 0.9, seed=3) != {0, 1}


@pytest.mark.parametrize(
    "queries, message",
    [
        ([query(i, "solo", i % 3) for i in range(9)], "one photographer/object group"),
        ([query(0, "p0", 0), query(1, "p1", 0)], "one photographer/object group"),  # joined by the object
        ([query(0, "p0", None)], "no Met queries"),
    ],
)
def test_refuses_splits_that_break_the_rules(tmp_path, queries, message):
    with pytest.raises(UserError, match=message):
        build_splits(make_root(tmp_path, queries))
    assert not manifests.split_path(tmp_path, "val").exists()


def test_bad_fraction_is_refused(tmp_path):
    with pytest.raises(UserError, match="between 0 and 1"):
        build_splits(make_root(tmp_path, many_photographers()), val_fraction=1.0)


def test_cli_prints_the_table_and_refuses_with_exit_2(tmp_path, capsys):
    root = make_root(tmp_path / "ok", many_photographers())
    with pytest.raises(SystemExit) as exc:
        main(["build-splits", "--root", str(root)])
        raise SystemExit(0)
    out = capsys.readouterr().out
    assert exc.value.code == 0
    assert out.splitlines()[0].split()[:3] == ["split", "images", "classes"]
    assert "leakage: 1 distractors flagged" in out
    summary = build_splits(root)
    assert format_table(summary) in out
    bad = make_root(tmp_path / "bad", [query(0, "p0", 0)])
    with pytest.raises(SystemExit) as exc:
        main(["build-splits", "--root", str(bad)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith("Error: ") and err.count("\n") == 1
