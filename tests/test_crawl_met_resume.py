"""A crawl killed part-way (SIGKILL, no clean-up) and run again finishes without fetching kept images twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from metdata import manifests
from metdata.errors import UserError
from metdata.met_crawl import HttpParams, Selection, crawl_met
from metdata.sample.model import BASE
from metdata.stages.met_object import ImageParams

FAST = HttpParams(rate_per_s=1000, workers=2)


def crawl_command(server, root, ids) -> list[str]:
    return [sys.executable, "-m", "metdata.cli", "crawl", "met", "--out", str(root),
            "--api-url", server.met_api_url, "--object-ids", ",".join(map(str, ids)),
            "--rate-per-s", "1000", "--workers", "2", "--no-progress"]


def finished_in_ledger(root) -> set[int]:
    ledger = root / "manifests" / ".ledger" / "met.jsonl"
    done = set()
    for line in ledger.read_bytes().splitlines(keepends=True):
        if line.endswith(b"\n"):
            done.add(json.loads(line)["unit"])
    return done


def test_killed_crawl_resumes_without_refetching_or_duplicating(sample_server, world, tmp_path):
    ids = sorted(oid for oid, obj in world.objects.items() if obj.expected_kept)[:24]
    sample_server.faults.fault_prefix = "/CRDImages/"
    sample_server.faults.delay_s = 0.03  # keep the first run busy long enough to be killed mid-way
    proc = subprocess.Popen(crawl_command(sample_server, tmp_path, ids), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 120
    while len(sample_server.requests_to("/CRDImages/")) < 30 and proc.poll() is None:
        assert time.monotonic() < deadline, "the first run never reached 30 image requests"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the first run finished before it could be killed"
    first_run = Counter(r.path for r in sample_server.requests_to("/CRDImages/"))
    finished = finished_in_ledger(tmp_path)
    assert 0 < len(finished) < len(ids)
    assert not (tmp_path / "manifests" / "exhibits.parquet").exists()  # killed before compaction

    sample_server.reset()
    summary = crawl_met(tmp_path, sample_server.met_api_url, Selection(object_ids=tuple(ids)),
                        http_params=HttpParams(rate_per_s=1000, workers=2), progress=False)
    second_run = Counter(r.path for r in sample_server.requests_to("/CRDImages/"))
    records_fetched = {int(r.path.rsplit("/", 1)[1]) for r in sample_server.requests_to("/public/collection/v1/objects/")}
    assert summary.resumed == len(finished)
    assert records_fetched == set(ids) - finished

    exhibits = manifests.read(tmp_path / "manifests/exhibits.parquet", "exhibits").to_pylist()
    objects = manifests.read(tmp_path / "manifests/objects.parquet", "objects").to_pylist()
    assert sorted(r["object_id"] for r in objects) == ids
    keys = [(r["object_id"], r["image_index"]) for r in exhibits]
    assert len(keys) == len(set(keys))
    assert {r["object_id"]: r["n_images_kept"] for r in objects} == {oid: world.objects[oid].expected_kept
                                                                     for oid in ids}
    for row in exhibits:
        path = row["source_url"].split("//", 1)[1].split("/", 1)[1]
        fetched = first_run["/" + path] + second_run["/" + path]
        if row["object_id"] in finished:
            assert second_run["/" + path] == 0, f"{path} of a finished object was fetched again"
        if row["status"] == "kept":
            assert fetched >= 1
            assert (tmp_path / row["path"]).exists()
    kept_files = sorted((tmp_path / "images" / "MET").rglob("*.jpg"))
    assert len(kept_files) == sum(r["status"] == "kept" for r in exhibits)


def test_a_finished_crawl_run_again_fetches_nothing_but_the_departments(sample_server, world, tmp_path):
    ids = sorted(oid for oid, obj in world.objects.items() if obj.expected_kept)[:3]
    selection = Selection(object_ids=tuple(ids))
    crawl_met(tmp_path, sample_server.met_api_url, selection, http_params=FAST, progress=False)
    before = manifests.read(tmp_path / "manifests/exhibits.parquet", "exhibits").to_pylist()
    sample_server.reset()
    summary = crawl_met(tmp_path, sample_server.met_api_url, selection, http_params=FAST, progress=False)
    assert [r.path for r in sample_server.log] == ["/public/collection/v1/departments"]
    assert summary.resumed == 3
    assert manifests.read(tmp_path / "manifests/exhibits.parquet", "exhibits").to_pylist() == before


def test_retry_failed_redoes_only_objects_with_http_errors(sample_server, world, tmp_path):
    broken, fine = sorted(oid for oid, obj in world.objects.items() if obj.expected_kept)[:2]
    selection = Selection(object_ids=(broken, fine))
    sample_server.faults.fault_prefix = f"/public/collection/v1/objects/{broken}"
    sample_server.faults.next_statuses = [503] * 3
    sample_server.faults.retry_after_s = 0.01
    summary = crawl_met(tmp_path, sample_server.met_api_url, selection,
                        http_params=HttpParams(rate_per_s=1000, max_retries=1), progress=False)
    assert summary.object_statuses["http_error"] == 1
    assert any("--retry-failed" in note for note in summary.notes)

    sample_server.reset()
    crawl_met(tmp_path, sample_server.met_api_url, selection, http_params=FAST, progress=False)
    assert not sample_server.requests_to("/public/collection/v1/objects/")  # a plain rerun keeps the failure
    summary = crawl_met(tmp_path, sample_server.met_api_url, selection, http_params=FAST, retry_failed=True,
                        progress=False)
    assert {r.path for r in sample_server.requests_to("/public/collection/v1/objects/")} == {
        f"/public/collection/v1/objects/{broken}"}
    objects = manifests.read(tmp_path / "manifests/objects.parquet", "objects").to_pylist()
    assert [(r["object_id"], r["status"]) for r in objects] == [(broken, "ok"), (fine, "ok")]
    assert summary.object_statuses == {"ok": 2}


def test_retry_failed_fetches_only_the_failed_image_again(sample_server, world, tmp_path):
    oid = next(oid for oid, obj in world.objects.items()
               if not obj.notes and obj.expected_kept >= 3 and len(obj.record["additionalImages"]) >= 2)
    record = world.objects[oid].record
    failing = record["additionalImages"][-1].replace(BASE, "")  # the URL path on the sample server
    selection = Selection(object_ids=(oid,))
    sample_server.faults.fault_prefix = failing
    sample_server.faults.next_statuses = [503]
    crawl_met(tmp_path, sample_server.met_api_url, selection, http_params=HttpParams(rate_per_s=1000, max_retries=0),
              progress=False)
    before = manifests.read(tmp_path / "manifests/exhibits.parquet", "exhibits").to_pylist()
    assert [r["status"] for r in before].count("http_error") == 1

    sample_server.reset()
    summary = crawl_met(tmp_path, sample_server.met_api_url, selection, http_params=FAST, retry_failed=True,
                        progress=False)
    assert [r.path for r in sample_server.requests_to("/CRDImages/")] == [failing]
    after = manifests.read(tmp_path / "manifests/exhibits.parquet", "exhibits").to_pylist()
    assert summary.object_statuses == {"ok": 1} and "http_error" not in summary.image_statuses
    assert [r["status"] for r in after] == world.objects[oid].expected_statuses
    kept = [r for r in after if r["status"] == "kept"]
    assert [r["path"] for r in kept] == [f"images/MET/{oid}/{n}.jpg" for n in range(len(kept))]
    reused = {r["source_url"]: r for r in before if r["status"] == "kept"}
    for row in kept:
        if row["source_url"] in reused:  # the same image, read back from disk rather than downloaded
            assert {k: row[k] for k in ("sha256", "phash", "width", "height")} == {
                k: reused[row["source_url"]][k] for k in ("sha256", "phash", "width", "height")}


def test_resuming_with_other_image_parameters_is_refused(sample_server, world, tmp_path):
    ids = sorted(oid for oid, obj in world.objects.items() if obj.expected_kept)[:1]
    selection = Selection(object_ids=tuple(ids))
    crawl_met(tmp_path, sample_server.met_api_url, selection, http_params=FAST, progress=False)
    with pytest.raises(UserError, match="max_side_px was 500, now 300"):
        crawl_met(tmp_path, sample_server.met_api_url, selection, ImageParams(max_side_px=300), FAST, progress=False)
