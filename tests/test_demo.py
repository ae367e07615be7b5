"""`metdata demo`: the whole pipeline on a small sample museum, then a rerun that reuses everything."""

from __future__ import annotations

import json
import re

import pytest

from metdata import manifests
from metdata.cli import main
from metdata.sample.world import build_world

N_OBJECTS = 120  # the real artworks and every edge case are always in; fewer procedural ones keep it quick


@pytest.mark.slow
def test_demo_runs_the_benchmark_end_to_end_and_reruns_from_what_it_has(tmp_path, capsys):
    world = build_world(0, n_objects=N_OBJECTS)
    out = tmp_path / "demo-out"
    main(["demo", "--out", str(out), "--objects", str(N_OBJECTS)])
    printed = capsys.readouterr().out

    expected_kept = sum(obj.expected_kept or 0 for obj in world.objects.values())
    assert f"Objects seen: {len(world.objects)}" in printed
    assert f"Images kept: {expected_kept}" in printed
    for command in ("crawl met", "crawl flickr", "import-photos", "crawl wikimedia", "match", "build-splits",
                    "features", "knn", "score", "report"):
        assert f"$ metdata {command}" in printed
    for name, kind in (("queries", "queries"), ("distractors", "distractors"), ("matches", "matches")):
        assert manifests.read(manifests.manifest_path(out, name), kind).num_rows > 0
    test = manifests.read(manifests.split_path(out, "test"), "queryset").to_pylist()
    assert sum(r["met_id"] is not None for r in test) >= 30 and sum(r["met_id"] is None for r in test) >= 30

    scores = json.loads((out / "demo-scores.json").read_text())
    assert scores["n_queries"] == len(test)
    # Chance accuracy is below 1% with ~100 classes: the descriptors must actually recognise the artworks.
    assert scores["acc"] > 0.3 and 0 < scores["gap"] <= scores["gap_minus"] <= 1
    page = (out / "report.html").read_text()
    assert f"<th>ACC</th><td>{100 * scores['acc']:.2f}</td>" in page

    main(["demo", "--out", str(out), "--objects", str(N_OBJECTS)])  # everything found done
    printed = capsys.readouterr().out
    assert f"({len(world.objects)} finished by an earlier run)" in printed
    # train, val, test: the exhibits are all reused, and every set reuses descriptors (import-photos rewrites
    # the own photos' files on a rerun, so their descriptors are recomputed)
    computed = re.findall(r"\((\d+) computed, (\d+) reused\)", printed)
    assert len(computed) == 3 and computed[0][0] == "0" and all(int(r) > 0 for _, r in computed), computed
    assert json.loads((out / "demo-scores.json").read_text())["gap"] == scores["gap"]
