"""metdata report on a tiny hand-made root: the page is self-contained and shows what was scored."""

import re

import pytest
from PIL import Image

from metdata import manifests
from metdata.cli import main


@pytest.fixture()
def scored_root(tmp_path):
    root = tmp_path / "root"
    exhibits, train = [], []
    for object_id, colour in ((1, "red"), (2, "blue")):
        for n in range(2):
            path = root / "images" / "MET" / str(object_id) / f"{n}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (64, 48), colour).save(path)
            exhibits.append({"object_id": object_id, "image_index": n, "status": "kept",
                             "path": f"images/MET/{object_id}/{n}.jpg"})
            train.append({"key": f"MET/{object_id}/{n}.jpg", "object_id": object_id})
    manifests.write(exhibits, manifests.manifest_path(root, "exhibits"), "exhibits")
    manifests.write(train, manifests.split_path(root, "train"), "train")
    queries = [("test_met/aaaaaaaaaaaa.jpg", 1, "met"), ("test_met/bbbbbbbbbbbb.jpg", 2, "met"),
               ("test_noart/cccccccccccc.jpg", None, "noart")]
    for key, _, _ in queries:
        (root / "images" / key).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 40), "green").save(root / "images" / key)
    manifests.write([{"key": k, "met_id": m, "kind": kind} for k, m, kind in queries],
                    manifests.split_path(root, "test"), "queryset")
    predictions = tmp_path / "predictions.csv"
    # query 1 right (0.9), query 2 wrong (0.8), the distractor above both (0.95)
    predictions.write_text("query,prediction,confidence\n"
                           "test_met/aaaaaaaaaaaa.jpg,1,0.9\n"
                           "test_met/bbbbbbbbbbbb.jpg,1,0.8\n"
                           "test_noart/cccccccccccc.jpg,2,0.95\n")
    return root, predictions


def test_report_is_one_self_contained_page(scored_root, tmp_path):
    root, predictions = scored_root
    out = tmp_path / "report.html"
    main_args = ["report", "--root", str(root), "--predictions", str(predictions),
                 "--gt", str(root / "splits" / "test.parquet"), "--out", str(out)]
    main(main_args)
    page = out.read_text()
    # GAP: ranks (distractor, q1 correct, q2 wrong) -> P(2) = 1/2, M = 2 -> 0.25; ACC 0.5; GAP- 1/2
    assert re.search(r"<th>GAP</th><td>25.00</td>", page)
    assert re.search(r"<th>GAP⁻ \(no distractors\)</th><td>50.00</td>", page)
    assert re.search(r"<th>ACC</th><td>50.00</td>", page)
    assert "src=\"http" not in page and "src=\"/" not in page  # nothing outside the file
    assert page.count("data:image/png;base64,") == 4  # three stats plots and the precision curve
    # panels: q1 in "correct" with class 1's two exhibits; q2 in "wrong" with predicted 1 and true 2
    assert page.count("predicted 1") == 4 and page.count("true 2") == 2
    assert page.count("predicted 2") == 2  # the distractor's panel


def test_report_without_predictions_is_one_line(scored_root, capsys):
    root, _ = scored_root
    with pytest.raises(SystemExit) as exc:
        main(["report", "--root", str(root)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "predictions" in err and err.count("\n") == 1
