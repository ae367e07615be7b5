"""metdata stats on a small hand-made root: every number checked against what was written."""

import pytest

from metdata import manifests
from metdata.bench.stats import compute, format_table, write_plots
from metdata.cli import main


def _exhibit(object_id, index, status="kept"):
    path = f"images/MET/{object_id}/{index}.jpg" if status == "kept" else None
    return {"object_id": object_id, "image_index": index, "path": path, "status": status}


def make_root(tmp_path):
    root = tmp_path / "root"
    exhibits = [_exhibit(1, 0), _exhibit(1, 1), _exhibit(2, 0), _exhibit(3, 0), _exhibit(3, 1, "duplicate")]
    exhibits += [_exhibit(4, i) for i in range(10)] + [_exhibit(4, 10, "over_cap")]
    manifests.write(exhibits, manifests.manifest_path(root, "exhibits"), "exhibits")
    objects = [
        {"object_id": i, "department": d, "status": "ok"}
        for i, d in [(1, "European Paintings"), (2, "Asian Art"), (3, "Asian Art"), (4, "Asian Art")]
    ]
    manifests.write(objects, manifests.manifest_path(root, "objects"), "objects")
    queries = [
        {"query_id": "a" * 12, "status": "kept", "met_object_id": 1, "photographer": "p1"},
        {"query_id": "b" * 12, "status": "kept", "met_object_id": 2, "photographer": "p2"},
        {"query_id": "c" * 12, "status": "kept", "met_object_id": 2, "photographer": "p2"},
        {"query_id": "d" * 12, "status": "license_not_free", "photographer": "p3"},
    ]
    manifests.write(queries, manifests.manifest_path(root, "queries"), "queries")
    distractors = [
        {"distractor_id": "e" * 12, "kind": "art", "status": "kept"},
        {"distractor_id": "f" * 12, "kind": "noart", "status": "kept"},
        {"distractor_id": "0" * 12, "kind": "noart", "status": "kept"},
        {"distractor_id": "1" * 12, "kind": "art", "status": "met_copy"},
    ]
    manifests.write(distractors, manifests.manifest_path(root, "distractors"), "distractors")
    return root


def test_numbers_match_the_manifests(tmp_path):
    stats = compute(make_root(tmp_path))
    assert (stats.exhibit_images, stats.classes, stats.departments) == (14, 4, 2)
    assert stats.images_per_class == {1: 2, 2: 1, 3: 0, 4: 0, 5: 0, 6: 0, 7: 0, 8: 0, 9: 0, 10: 1}
    assert (stats.queries, stats.met_queries, stats.met_query_classes) == (3, 3, 2)
    assert stats.queries_per_department == {"Asian Art": 2, "European Paintings": 1}
    assert (stats.art_distractors, stats.noart_distractors) == (1, 2)
    assert stats.drop_reasons == {"kept": 20, "duplicate": 1, "over_cap": 1, "license_not_free": 1, "met_copy": 1}
    assert "exhibit images" in format_table(stats)


def test_split_rows_come_from_the_split_files(tmp_path):
    root = make_root(tmp_path)
    manifests.write([{"key": "MET/1/0.jpg", "object_id": 1}], manifests.split_path(root, "train"), "train")
    test_rows = [
        {"key": "test_met/aaaaaaaaaaaa.jpg", "met_id": 1, "kind": "met", "photographer": "p1"},
        {"key": "test_met/bbbbbbbbbbbb.jpg", "met_id": 1, "kind": "met", "photographer": None},
        {"key": "test_noart/ffffffffffff.jpg", "met_id": None, "kind": "noart"},
        {"key": "test_other/eeeeeeeeeeee.jpg", "met_id": None, "kind": "other"},
    ]
    manifests.write(test_rows, manifests.split_path(root, "test"), "queryset")
    stats = compute(root)
    assert stats.splits["train"].images == 1
    test = stats.splits["test"]
    # the unknown photographer counts as one, as in build-splits' table (same rows, same numbers)
    assert (test.images, test.classes, test.met_queries, test.photographers) == (4, 1, 2, 2)
    assert (test.art_distractors, test.noart_distractors) == (1, 1)
    assert stats.met_queries == 2  # split membership wins over unreviewed candidates


def test_plots_are_png_files(tmp_path):
    stats = compute(make_root(tmp_path))
    paths = write_plots(stats, tmp_path / "plots")
    assert set(paths) == {"images_per_class", "queries_per_department", "drop_reasons"}
    for path in paths.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_missing_manifest_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["stats", "--root", str(tmp_path / "nowhere")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "exhibits.parquet" in err and err.count("\n") == 1


def test_cli_no_kept_exhibits_prints_the_table_then_one_line(tmp_path, capsys):
    root = tmp_path / "root"
    manifests.write([{"object_id": 1, "image_index": 0, "path": None, "status": "duplicate"}],
                    manifests.manifest_path(root, "exhibits"), "exhibits")
    with pytest.raises(SystemExit) as exc:
        main(["stats", "--root", str(root)])
    out, err = capsys.readouterr()
    assert exc.value.code == 2 and "exhibit images" in out
    assert err.startswith("Error: no kept exhibit images") and err.count("\n") == 1
    assert not (root / "stats").exists()
