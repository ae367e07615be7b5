"""The stage runner: executor, resume ledger (torn lines, parameter changes, redo) and compaction."""

from __future__ import annotations

import threading

import pytest

from metdata import manifests
from metdata.errors import UserError
from metdata.run import Ledger, LocalExecutor, compact, make_executor, run_units


def _stage(unit: int) -> dict:
    return {
        "objects": [{"object_id": unit, "status": "ok", "n_images_kept": 1}],
        "exhibits": [
            {"object_id": unit, "image_index": 0, "status": "kept", "path": f"images/MET/{unit}/0.jpg"},
            {"object_id": unit, "image_index": 1, "status": "duplicate"},
        ],
    }


def test_local_executor_runs_every_unit_concurrently():
    seen = set()
    lock = threading.Lock()

    def stage(unit):
        with lock:
            seen.add(threading.current_thread().name)
        return {"t": [{"u": unit}]}

    results = dict(LocalExecutor(3).imap_unordered(stage, range(50)))
    assert sorted(results) == list(range(50))
    assert all(results[u] == {"t": [{"u": u}]} for u in results)
    assert len(seen) > 1


def test_local_executor_propagates_stage_errors():
    def stage(unit):
        if unit == 7:
            raise RuntimeError("boom")
        return {}

    with pytest.raises(RuntimeError, match="boom"):
        list(LocalExecutor(2).imap_unordered(stage, range(20)))


def test_unknown_executor_and_bad_workers_are_user_errors():
    with pytest.raises(UserError, match="unknown"):
        make_executor("spark", 2)
    with pytest.raises(UserError, match="at least 1"):
        make_executor("local", 0)


def test_ledger_skips_finished_units_and_survives_a_torn_line(tmp_path):
    ledger = Ledger(tmp_path, "job", {"a": 1})
    report = run_units(_stage, [1, 2, 3], ledger=ledger, executor=LocalExecutor(2), progress=False,
                       progress_table="exhibits")
    assert report.ran == 3 and report.resumed == 0
    assert report.statuses["exhibits"] == {"kept": 3, "duplicate": 3}
    with open(ledger.path, "a") as f:  # a crawl killed in the middle of writing unit 4
        f.write('{"unit": 4, "rows": {"objects": [')
    calls = []

    def counting_stage(unit):
        calls.append(unit)
        return _stage(unit)

    ledger = Ledger(tmp_path, "job", {"a": 1})
    assert sorted(ledger.results) == [1, 2, 3]
    report = run_units(counting_stage, [1, 2, 3, 4, 5], ledger=ledger, executor=LocalExecutor(2), progress=False)
    assert sorted(calls) == [4, 5]
    assert report.resumed == 3 and report.ran == 2
    assert sorted(Ledger(tmp_path, "job", {"a": 1}).results) == [1, 2, 3, 4, 5]


def test_redo_replaces_a_unit_without_duplicating_rows(tmp_path):
    ledger = Ledger(tmp_path, "job", {})
    run_units(_stage, [1, 2], ledger=ledger, executor=LocalExecutor(1), progress=False)
    run_units(_stage, [1, 2], ledger=ledger, executor=LocalExecutor(1), progress=False, redo=lambda rows: True)
    paths = compact(Ledger(tmp_path, "job", {}).results, tmp_path, {"objects": "objects", "exhibits": "exhibits"},
                    {"parameters": {"x": 1}})
    objects = manifests.read(paths["objects"], "objects")
    exhibits = manifests.read(paths["exhibits"], "exhibits")
    assert objects.column("object_id").to_pylist() == [1, 2]
    assert exhibits.num_rows == 4
    assert manifests.read_metadata(paths["exhibits"])["parameters"] == {"x": 1}


def test_resuming_with_other_parameters_is_refused(tmp_path):
    Ledger(tmp_path / "manifests" / ".ledger", "met", {"max_side_px": 500})
    with pytest.raises(UserError, match="max_side_px was 500, now 800"):
        Ledger(tmp_path / "manifests" / ".ledger", "met", {"max_side_px": 800})
