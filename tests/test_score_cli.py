"""`metdata score`: results on good files, and one line with the line number (exit 2) on every bad one."""

import json

import pytest

from metdata import manifests
from metdata.cli import main

GT = [
    {"path": "test_met/aaaaaaaaaaaa.jpg", "MET_id": 1, "photographer": "p1", "url": "https://x/1"},
    {"path": "test_met/bbbbbbbbbbbb.jpg", "MET_id": 2},
    {"path": "test_other/cccccccccccc.jpg", "category": "Paintings", "url": "https://x/c"},
    {"path": "test_noart/dddddddddddd.jpg"},
]
GOOD = [("test_met/aaaaaaaaaaaa.jpg", "1", "0.9"), ("test_met/bbbbbbbbbbbb.jpg", "7", "0.8"),
        ("test_other/cccccccccccc.jpg", "1", "0.95"), ("test_noart/dddddddddddd.jpg", "2", "0.1")]


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def write_csv(path, rows, header="query,prediction,confidence"):
    path.write_text("\n".join([header, *(",".join(r) for r in rows)]) + "\n")
    return path


@pytest.fixture()
def gt_json(tmp_path):
    path = tmp_path / "testset.json"
    path.write_text(json.dumps(GT))
    return path


def test_scores_official_json_as_percentages_and_json(tmp_path, gt_json, capsys):
    preds = write_csv(tmp_path / "p.csv", GOOD)
    code, out, _ = run(["score", str(preds), "--gt", str(gt_json)], capsys)
    # ranking: distractor c (0.95), a correct (0.9), b wrong, d -> GAP = (1/2)/2 = 0.25
    assert code == 0 and "GAP    25.00" in out and "GAP-   50.00" in out and "ACC    50.00" in out
    code, out, _ = run(["score", str(preds), "--gt", str(gt_json), "--json"], capsys)
    result = json.loads(out)
    assert (result["gap"], result["gap_minus"], result["acc"]) == (0.25, 0.5, 0.5)
    assert (result["n_queries"], result["n_met"], result["n_tied"]) == (4, 2, 0)


def test_scores_our_split_parquet_with_reordered_rows(tmp_path, capsys):
    rows = [{"key": e["path"], "met_id": e.get("MET_id"), "kind": "met" if "MET_id" in e else "other"}
            for e in GT]
    gt = manifests.write(rows, tmp_path / "test.parquet", "queryset")
    preds = write_csv(tmp_path / "p.csv", GOOD[::-1])
    code, out, _ = run(["score", str(preds), "--gt", str(gt), "--json"], capsys)
    assert code == 0 and json.loads(out)["gap"] == 0.25


def test_ties_are_reported_with_their_spread(tmp_path, gt_json, capsys):
    rows = [("test_met/aaaaaaaaaaaa.jpg", "1", "1"), ("test_met/bbbbbbbbbbbb.jpg", "0", "1"),
            ("test_other/cccccccccccc.jpg", "0", "1"), ("test_noart/dddddddddddd.jpg", "0", "1")]
    code, out, _ = run(["score", str(write_csv(tmp_path / "p.csv", rows)), "--gt", str(gt_json)], capsys)
    assert code == 0 and "GAP    50.00" in out
    assert "ties  4 queries" in out and "50.00 / 12.50" in out


def test_missing_wrong_scores_absent_queries_last(tmp_path, gt_json, capsys):
    preds = write_csv(tmp_path / "p.csv", [GOOD[1], GOOD[0]])
    code, out, _ = run(["score", str(preds), "--gt", str(gt_json), "--missing", "wrong", "--json"], capsys)
    result = json.loads(out)
    assert code == 0 and result["n_missing"] == 2 and result["gap"] == 0.5


BAD_CASES = {
    "missing column": ("query,prediction,score", GOOD, "line 1: missing column 'confidence'"),
    "non-numeric confidence": (None, [GOOD[0], (GOOD[1][0], "7", "high"), *GOOD[2:]],
                               "line 3: confidence 'high' is not a number"),
    "nan confidence": (None, [*GOOD[:3], (GOOD[3][0], "2", "nan")], "line 5: confidence 'nan' is not finite"),
    "inf confidence": (None, [(GOOD[0][0], "1", "inf"), *GOOD[1:]], "line 2: confidence 'inf' is not finite"),
    "empty confidence": (None, [GOOD[0], (GOOD[1][0], "7", ""), *GOOD[2:]], "line 3: confidence '' is not"),
    "string class id": (None, [*GOOD[:2], (GOOD[2][0], "abc", "0.3"), GOOD[3]],
                        "line 4: prediction 'abc' is not an integer"),
    "duplicate query": (None, [*GOOD, GOOD[1]], "line 6: duplicate query 'test_met/bbbbbbbbbbbb.jpg' (first on line 3)"),
    "unknown query": (None, [*GOOD, ("test_met/eeeeeeeeeeee.jpg", "1", "0.5")],
                      "line 6: query 'test_met/eeeeeeeeeeee.jpg' is not in the ground truth"),
    "missing query": (None, GOOD[:3], "1 ground-truth queries"),
    "short row": (None, [GOOD[0], (GOOD[1][0], "7"), *GOOD[2:]], "line 3: 2 fields, the header has 3"),
    "header only": (None, [], "no predictions after the header"),
    # what the fast reader refuses, the diagnosis must blame on its line too
    "plus-signed class id": (None, [(GOOD[0][0], "+1", "0.9"), *GOOD[1:]], "line 2: prediction '+1' is not"),
    "class id over 64 bits": (None, [*GOOD[:3], (GOOD[3][0], "9" * 20, "0.1")], "line 5: prediction '999"),
    "underscore in confidence": (None, [GOOD[0], (GOOD[1][0], "7", "1_0"), *GOOD[2:]],
                                 "line 3: confidence '1_0' is not a number"),
    # padded ids are fine for the fast reader, so the diagnosis must not blame line 2 for a later duplicate
    "duplicate after a padded id": (None, [(GOOD[0][0], " 1 ", "0.9"), *GOOD], "line 3: duplicate query"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_predictions_give_one_line_and_exit_2(tmp_path, gt_json, capsys, case):
    header, rows, message = BAD_CASES[case]
    preds = write_csv(tmp_path / "p.csv", rows, header or "query,prediction,confidence")
    code, out, err = run(["score", str(preds), "--gt", str(gt_json)], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("Error: ") and message in err, err


def test_empty_file(tmp_path, gt_json, capsys):
    preds = tmp_path / "p.csv"
    preds.write_text("")
    code, _, err = run(["score", str(preds), "--gt", str(gt_json)], capsys)
    assert code == 2 and "empty file" in err and err.count("\n") == 1


@pytest.mark.parametrize("bad_id", ['"1"', "1.0", "true"])
def test_non_integer_class_ids_in_official_json_are_rejected(tmp_path, capsys, bad_id):
    gt = tmp_path / "testset.json"
    gt.write_text(f'[{{"path": "test_met/aaaaaaaaaaaa.jpg", "MET_id": {bad_id}}}]')
    preds = write_csv(tmp_path / "p.csv", [GOOD[0]])
    code, _, err = run(["score", str(preds), "--gt", str(gt)], capsys)
    assert code == 2 and "entry 0: 'MET_id'" in err and "JSON integers" in err


def test_ground_truth_without_met_queries(tmp_path, capsys):
    gt = tmp_path / "testset.json"
    gt.write_text(json.dumps([GT[2]]))
    preds = write_csv(tmp_path / "p.csv", [GOOD[2]])
    code, _, err = run(["score", str(preds), "--gt", str(gt)], capsys)
    assert code == 2 and "M = 0" in err


def test_duplicate_keys_in_the_ground_truth(tmp_path, capsys):
    gt = tmp_path / "testset.json"
    gt.write_text(json.dumps([GT[0], GT[1], GT[0]]))
    preds = write_csv(tmp_path / "p.csv", GOOD[:2])
    code, _, err = run(["score", str(preds), "--gt", str(gt)], capsys)
    assert code == 2 and "duplicate path 'test_met/aaaaaaaaaaaa.jpg'" in err
    rows = [{"key": GT[0]["path"], "met_id": 1, "kind": "met"}] * 2 + [{"key": GT[1]["path"], "met_id": 2, "kind": "met"}]
    parquet = manifests.write(rows, tmp_path / "test.parquet", "queryset")
    code, _, err = run(["score", str(preds), "--gt", str(parquet)], capsys)
    assert code == 2 and "duplicate query keys in the ground truth" in err


def test_bom_and_crlf_are_accepted_and_line_numbers_still_right(tmp_path, gt_json, capsys):
    good = tmp_path / "good.csv"
    good.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(["query,prediction,confidence", *map(",".join, GOOD)]).encode())
    code, out, _ = run(["score", str(good), "--gt", str(gt_json), "--json"], capsys)
    assert code == 0 and json.loads(out)["gap"] == 0.25
    bad = tmp_path / "bad.csv"
    rows = [GOOD[0], GOOD[1], (GOOD[2][0], "1", "x"), GOOD[3]]
    bad.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(["query,prediction,confidence", *map(",".join, rows)]).encode())
    code, _, err = run(["score", str(bad), "--gt", str(gt_json)], capsys)
    assert code == 2 and "line 4: confidence 'x' is not a number" in err
