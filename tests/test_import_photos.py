"""`metdata import-photos`: own photos as query candidates, processed like Flickr photos, with an objects CSV."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from cli_runner import run_cli

from metdata.cli import main
from metdata.sample.world_flickr import write_own_photos


@pytest.fixture()
def own_dir(world, tmp_path) -> Path:
    directory = tmp_path / "photos"
    write_own_photos(world, directory)
    return directory


def _run(capsys, *args) -> tuple[int, str, str]:
    return run_cli(["import-photos", *args, "--no-progress"], capsys)


def _rows(root) -> list[dict]:
    return pq.read_table(Path(root) / "manifests" / "queries.parquet").to_pylist()


def test_import_with_objects_csv(world, own_dir, tmp_path, capsys):
    root = tmp_path / "root"
    code, out, err = _run(capsys, str(own_dir), "--root", str(root), "--photographer", "Ana Muñoz",
                          "--objects-csv", str(own_dir / "objects.csv"))
    assert code == 0, err
    rows = {r["photo_id"]: r for r in _rows(root)}
    truth = {o.file_name: o.object_id for o in world.own_photos}
    assert set(rows) == set(truth)
    for name, row in rows.items():
        assert row["met_object_id"] == truth[name]
        assert row["query_id"] == hashlib.sha1(f"own:Ana Muñoz/{name}".encode()).hexdigest()[:12]
        assert (row["source"], row["photographer"], row["license"]) == ("own", "Ana Muñoz", "CC BY 4.0")
        assert row["status"] == "kept" and max(row["width"], row["height"]) <= 500
        assert (root / row["path"]).is_file() and row["path"] == f"images/test_met/{row['query_id']}.jpg"
    assert f"Kept: {len(truth)} " in out
    # importing again updates the same rows instead of adding new ones, and keeps the links it has
    code, _, err = _run(capsys, str(own_dir), "--root", str(root), "--photographer", "Ana Muñoz")
    assert code == 0, err
    assert len(_rows(root)) == len(truth)
    assert {r["photo_id"]: r["met_object_id"] for r in _rows(root)} == truth


def test_a_root_inside_the_photo_folder_is_not_imported_as_photos(world, own_dir, capsys):
    root = own_dir / "dataset"
    for _ in range(2):
        code, _, err = _run(capsys, str(own_dir), "--root", str(root), "--photographer", "me")
        assert code == 0, err
    assert sorted(r["photo_id"] for r in _rows(root)) == sorted(o.file_name for o in world.own_photos)


def test_a_photo_folder_inside_the_root_is_imported(world, tmp_path, capsys):
    root = tmp_path / "root"
    photos = root / "sample" / "own-photos"  # as the demo lays it out
    write_own_photos(world, photos)
    code, _, err = _run(capsys, str(photos), "--root", str(root), "--photographer", "me")
    assert code == 0, err
    assert sorted(r["photo_id"] for r in _rows(root)) == sorted(o.file_name for o in world.own_photos)


def test_own_and_flickr_rows_share_the_manifest(sample_server, own_dir, tmp_path, capsys):
    root = tmp_path / "root"
    user = sample_server.world.photos[0].owner
    main(["crawl", "flickr", "--out", str(root), "--user-id", user, "--api-key", "k", "--api-secret", "s",
          "--rest-url", sample_server.flickr_rest_url, "--rate-per-s", "1000", "--image-rate-per-s", "1000",
          "--no-progress"])
    flickr_rows = len(_rows(root))
    code, _, err = _run(capsys, str(own_dir), "--root", str(root), "--photographer", "me")
    assert code == 0, err
    sources = [r["source"] for r in _rows(root)]
    assert sources.count("flickr") == flickr_rows and sources.count("own") == len(sample_server.world.own_photos)


@pytest.mark.parametrize("csv_text, message", [
    ("file,object_id\nIMG_2041.jpg,436535\nIMG_2054.jpg,abc\n", "objects.csv: line 3: object_id 'abc' is not"),
    ("file,object_id\nnot-there.jpg,1\n", "objects.csv: line 2: no photo 'not-there.jpg'"),
    ("file,object_id\nIMG_2041.jpg,\u00b2\n", "objects.csv: line 2: object_id '\u00b2' is not"),
    ("name,id\nIMG_2041.jpg,1\n", "objects.csv: line 1: expected the columns file,object_id"),
    ("file,object_id\nIMG_2041.jpg,1\nIMG_2041.jpg,2\n", "objects.csv: line 3: 'IMG_2041.jpg' is listed twice"),
])
def test_bad_csv_is_a_one_line_error_and_nothing_written(own_dir, tmp_path, capsys, csv_text, message):
    bad = tmp_path / "objects.csv"
    bad.write_text(csv_text, encoding="utf-8")
    code, _, err = _run(capsys, str(own_dir), "--root", str(tmp_path / "root"), "--photographer", "me",
                        "--objects-csv", str(bad))
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("Error: ") and message in err
    assert not (tmp_path / "root").exists()


def test_bad_folder_and_non_free_licence(tmp_path, capsys):
    code, _, err = _run(capsys, str(tmp_path / "nope"), "--root", str(tmp_path), "--photographer", "me")
    assert code == 2 and "nope: not a directory" in err
    (tmp_path / "empty").mkdir()
    code, _, err = _run(capsys, str(tmp_path / "empty"), "--root", str(tmp_path), "--photographer", "me")
    assert code == 2 and "empty: no image files" in err
    code, _, err = _run(capsys, str(tmp_path / "empty"), "--root", str(tmp_path), "--photographer", "me",
                        "--license", "All Rights Reserved")
    assert code == 2 and "--license" in err


def test_undecodable_file_gets_a_row(own_dir, tmp_path, capsys):
    (own_dir / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    code, _, err = _run(capsys, str(own_dir), "--root", str(tmp_path / "root"), "--photographer", "me")
    assert code == 0, err
    status = {r["photo_id"]: r["status"] for r in _rows(tmp_path / "root")}
    assert status["broken.jpg"] == "decode_error"


def test_other_image_parameters_are_refused_in_the_same_root(own_dir, tmp_path, capsys):
    root = tmp_path / "root"
    assert _run(capsys, str(own_dir), "--root", str(root), "--photographer", "me")[0] == 0
    code, _, err = _run(capsys, str(own_dir), "--root", str(root), "--photographer", "me", "--max-side-px", "300")
    assert code == 2 and "max_side_px was 500, now 300" in err
