"""The official release format: exact JSON shapes on export, and import(export(x)) == x on the splits."""

import json

import pytest

from metdata import manifests, official
from metdata.cli import main
from metdata.errors import UserError

TRAIN = [{"key": f"MET/{o}/{n}.jpg", "object_id": o} for o in (34, 77, 435894) for n in range(2)]
VAL = [
    {"key": "test_met/4b484589e4ef.jpg", "met_id": 34, "kind": "met", "photographer": "p1", "category": None,
     "url": "https://www.flickr.com/photos/p1/1"},
    {"key": "test_noart/0a0a0a0a0a0a.jpg", "met_id": None, "kind": "noart", "photographer": None,
     "category": "Cars", "url": None},
]
TEST = [
    {"key": "test_other/8f3a69ef8d7b.jpg", "met_id": None, "kind": "other", "photographer": None,
     "category": "Paintings", "url": "https://commons.wikimedia.org/wiki/File:X.jpg"},
    {"key": "test_met/1234567890ab.jpg", "met_id": 435894, "kind": "met", "photographer": None,
     "category": None, "url": None},
]


@pytest.fixture()
def root(tmp_path):
    root = tmp_path / "ours"
    for split, rows in (("train", TRAIN), ("val", VAL), ("test", TEST)):
        manifests.write(rows, manifests.split_path(root, split), manifests.SPLIT_SCHEMAS[split])
        for row in rows:
            image = root / "images" / row["key"]
            image.parent.mkdir(parents=True, exist_ok=True)
            image.write_bytes(row["key"].encode())
    return root


def read_splits(root):
    return {s: manifests.read(manifests.split_path(root, s), manifests.SPLIT_SCHEMAS[s])
            for s in ("train", "val", "test")}


def test_export_writes_the_release_shapes(root, tmp_path):
    dest = tmp_path / "release"
    transfer = official.export(root, dest)
    assert transfer.missing_images == []
    gt = dest / "ground_truth"
    database = json.loads((gt / "MET_database.json").read_text())
    assert database[0] == {"id": 34, "path": "MET/34/0.jpg"} and len(database) == 6
    assert json.loads((gt / "valset.json").read_text()) == [
        {"path": "test_met/4b484589e4ef.jpg", "MET_id": 34, "photographer": "p1",
         "url": "https://www.flickr.com/photos/p1/1"},
        {"path": "test_noart/0a0a0a0a0a0a.jpg", "category": "Cars"},
    ]
    testset = json.loads((gt / "testset.json").read_text())
    assert "MET_id" not in testset[0] and type(testset[1]["MET_id"]) is int
    mini = json.loads((gt / "mini_MET_database.json").read_text())
    assert {e["id"] for e in mini} >= {34, 435894}  # every query class is in the mini database
    assert all(e in database for e in mini)
    for folder in ("MET/34", "test_met", "test_other", "test_noart"):
        assert (dest / "images" / folder).is_dir()
    assert (dest / "images/MET/77/1.jpg").read_bytes() == b"MET/77/1.jpg"


def test_round_trip_import_of_export_equals_the_splits(root, tmp_path):
    dest, again = tmp_path / "release", tmp_path / "again"
    official.export(root, dest, copy=True)
    transfer = official.import_release(dest, again)
    assert transfer.counts == {"train": 6, "val": 2, "test": 2}
    before, after = read_splits(root), read_splits(again)
    for split in before:
        assert after[split].equals(before[split]), split
    queries = manifests.read(manifests.manifest_path(again, "queries"), "queries").to_pylist()
    assert {q["met_object_id"] for q in queries} == {34, 435894}
    distractors = manifests.read(manifests.manifest_path(again, "distractors"), "distractors").to_pylist()
    assert sorted(d["kind"] for d in distractors) == ["art", "noart"]
    exhibits = manifests.read(manifests.manifest_path(again, "exhibits"), "exhibits").to_pylist()
    assert all(e["status"] == "kept" and e["path"].startswith("images/MET/") for e in exhibits)
    assert (again / "images/test_met/4b484589e4ef.jpg").read_bytes() == b"test_met/4b484589e4ef.jpg"


def test_mini_database_is_deterministic_and_about_fifteen_percent():
    train = manifests.to_table([{"key": f"MET/{o}/0.jpg", "object_id": o} for o in range(4000)], "train")
    mini = official.mini_database(train, {1, 2})
    ids = mini["object_id"].to_pylist()
    assert {1, 2} <= set(ids) and 0.12 < len(ids) / 4000 < 0.18
    # membership depends on the object id alone, not on the other rows
    full = official.mini_database(train, set())["object_id"].to_pylist()
    half = official.mini_database(train.slice(0, 2000), set())["object_id"].to_pylist()
    assert half == [i for i in full if i < 2000]


@pytest.mark.parametrize(
    "entries, message",
    [
        ([{"path": "test_met/a.jpg", "MET_id": "34"}], "class ids must be JSON integers"),
        ([{"path": "test_met/a.jpg", "MET_id": 34.0}], "class ids must be JSON integers"),
        ([{"path": "test_met/a.jpg", "MET_id": 2**64}], "beyond a 64-bit class id"),
        ([{"path": "test_met/a.jpg"}], "is not under test_other/ or test_noart/"),
        ([{"path": "/abs/a.jpg", "MET_id": 1}], "relative to images/"),
        ([{"path": "test_met/../../a.jpg", "MET_id": 1}], "relative to images/"),
        ({"path": "x"}, "top-level JSON array"),
    ],
)
def test_bad_release_files_are_user_errors(tmp_path, entries, message):
    path = tmp_path / "valset.json"
    path.write_text(json.dumps(entries))
    with pytest.raises(UserError, match=message):
        official.read_queryset_table(path)


def test_cli_round_trip_and_missing_ground_truth(root, tmp_path, capsys):
    dest = tmp_path / "release"
    with pytest.raises(SystemExit) as exc:
        main(["export-official", str(root), str(dest)])
        raise SystemExit(0)
    assert exc.value.code == 0 and "train 6" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["import-official", str(root), str(tmp_path / "x")])
    assert exc.value.code == 2 and "no ground_truth/ folder" in capsys.readouterr().err
