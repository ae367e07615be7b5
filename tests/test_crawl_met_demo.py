"""`metdata demo`'s first step: the whole sample museum crawled on loopback, then resumed on a rerun."""

from __future__ import annotations

import pytest

from metdata import manifests
from metdata.cli import main


@pytest.mark.slow
def test_demo_crawls_the_sample_museum_and_reruns_from_the_ledger(world, tmp_path, capsys):
    out = tmp_path / "demo-out"
    main(["demo", "--out", str(out)])
    printed = capsys.readouterr().out
    expected_kept = sum(obj.expected_kept or 0 for obj in world.objects.values())
    assert f"Objects seen: {len(world.objects)}" in printed
    assert f"Images kept: {expected_kept}" in printed
    objects = manifests.read(out / "manifests/objects.parquet", "objects")
    assert objects.num_rows == len(world.objects)
    assert len(list((out / "images" / "MET").rglob("*.jpg"))) == expected_kept

    main(["demo", "--out", str(out)])  # a second run finds everything done
    printed = capsys.readouterr().out
    assert f"({len(world.objects)} finished by an earlier run)" in printed
    assert f"Images kept: {expected_kept}" in printed
