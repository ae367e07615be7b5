"""The Dask executor on a real two-process LocalCluster: the same manifests and descriptors as the local
path, a worker killed mid-run loses nothing, and --rate-per-s holds for the whole cluster."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from metdata import manifests
from metdata.cli import main
from metdata.errors import UserError
from metdata.met_crawl import HttpParams, Selection, crawl_met
from metdata.stages.met_object import ImageParams

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.dask

LIMIT = 20
IMAGE = ImageParams(max_side_px=64, min_side_px=16)  # small exhibits: quick crawls and quick descriptors
FAST = HttpParams(rate_per_s=1000.0, timeout_s=10.0, deadline_s=30.0)
CRAWL_ARGS = ["--limit", str(LIMIT), "--max-side-px", "64", "--min-side-px", "16", "--no-progress"]


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        yield cluster.scheduler_address, client


@pytest.fixture(scope="module")
def server(world):
    """One server for the module, so that source URLs (which carry its port) match between runs."""
    from metdata.sample.services import start_sample_server

    server = start_sample_server(world=world)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def local_root(server, tmp_path_factory):
    """The reference: the same crawl with the local executor."""
    root = tmp_path_factory.mktemp("local")
    crawl_met(root, server.met_api_url, Selection(limit=LIMIT), IMAGE, FAST, progress=False)
    return root


def _tables(root) -> dict[str, pd.DataFrame]:
    keys = {"objects": ["object_id"], "exhibits": ["object_id", "image_index"]}
    return {table: manifests.read(manifests.manifest_path(root, table), table).to_pandas()
            .sort_values(cols, ignore_index=True) for table, cols in keys.items()}


def _assert_same_crawl(root, reference) -> None:
    got, want = _tables(root), _tables(reference)
    for table in want:
        pd.testing.assert_frame_equal(got[table], want[table])
    assert not got["exhibits"].duplicated(["object_id", "image_index"]).any()
    kept = want["exhibits"]["path"].dropna()
    assert len(kept) > LIMIT
    for path in kept:
        assert (root / path).read_bytes() == (reference / path).read_bytes()


def test_crawl_met_on_dask_writes_the_same_manifests_as_local(cluster, server, local_root, tmp_path, capsys):
    server.reset()
    main(["crawl", "met", "--out", str(tmp_path), "--api-url", server.met_api_url, *CRAWL_ARGS,
          "--rate-per-s", "1000", "--executor", "dask", "--scheduler", cluster[0]])
    assert f"Objects seen: {LIMIT}" in capsys.readouterr().out
    _assert_same_crawl(tmp_path, local_root)


def test_a_worker_killed_mid_run_loses_nothing(cluster, server, local_root, tmp_path):
    address, client = cluster
    server.reset()
    server.faults.delay_s = 0.15  # every answer is slow, so tasks are in flight when the worker dies
    pool = ThreadPoolExecutor(1)
    crawl = pool.submit(crawl_met, tmp_path, server.met_api_url, Selection(limit=LIMIT), IMAGE, FAST,
                        executor="dask", scheduler=address, progress=False)
    ledger = tmp_path / "manifests" / ".ledger" / "met.jsonl"
    victim = None
    for _ in range(600):  # up to 60 s: wait until some units are done and a worker is busy
        busy = [w for w, keys in client.processing().items() if keys]
        if busy and ledger.exists() and ledger.read_bytes().count(b"\n") >= 2:
            victim = busy[0]
            break
        time.sleep(0.1)
    assert victim is not None, "the crawl never had a task in flight"
    os.kill(client.run(os.getpid, workers=[victim])[victim], signal.SIGKILL)
    assert crawl.result(timeout=120).objects == LIMIT
    pool.shutdown()
    assert ledger.read_bytes().count(b"\n") == LIMIT  # each unit recorded once: none lost, none twice
    _assert_same_crawl(tmp_path, local_root)


def _max_in_one_second(times: list[float]) -> int:
    times = sorted(times)
    most, j = 0, 0
    for i, start in enumerate(times):
        j = max(j, i)
        while j < len(times) and times[j] < start + 1.0:
            j += 1
        most = max(most, j - i)
    return most


def test_the_rate_limit_holds_for_the_whole_cluster(cluster, server, tmp_path):
    rate_per_s, burst = 8, 1
    server.reset()
    main(["crawl", "met", "--out", str(tmp_path), "--api-url", server.met_api_url, "--limit", "10",
          "--max-side-px", "64", "--min-side-px", "16", "--no-progress", "--rate-per-s", str(rate_per_s),
          "--executor", "dask", "--scheduler", cluster[0]])
    times = [r.time for r in server.log]
    assert len(times) >= 3 * rate_per_s  # long enough that two workers at the full rate each would show (2R)
    # The bucket spaces slots 1/R apart, so a perfect sender puts R in any second; `burst` more is the
    # bucket's allowance and one more is the OS: on a loaded 2-core machine a sender can wake late.
    jitter = 1
    assert _max_in_one_second(times) <= rate_per_s + burst + jitter, sorted(times)
    assert (len(times) - burst) / (max(times) - min(times)) <= rate_per_s * 1.1


def test_the_window_counter_sees_a_rate_twice_too_high():
    assert _max_in_one_second([i / 16 for i in range(48)]) == 16
    assert _max_in_one_second([i / 8 for i in range(48)]) == 8


@pytest.mark.usefixtures("one_torch_thread")
def test_features_on_dask_are_bit_identical_to_local(cluster, local_root, tmp_path, capsys):
    address, client = cluster
    root = tmp_path / "root"
    shutil.copytree(local_root / "images", root / "images")
    exhibits = _tables(local_root)["exhibits"].dropna(subset=["path"])
    rows = [{"key": p.removeprefix("images/"), "object_id": o} for p, o in zip(exhibits["path"], exhibits["object_id"])]
    manifests.write(rows, manifests.split_path(root, "train"), "train")
    argv = ["features", "--root", str(root), "--backbone", "resnet18", "--random-weights", "--threads", "1",
            "--sets", "train", "--batch-size", "4"]

    main(argv)
    from metdata.bench.features import load_descriptors

    local_keys, local_X = load_descriptors(root, "resnet18", "train")
    shutil.rmtree(root / "features")
    main([*argv, "--executor", "dask", "--scheduler", address])
    assert f"train: {len(rows)} images ({len(rows)} computed, 0 reused)" in capsys.readouterr().out
    keys, X = load_descriptors(root, "resnet18", "train")
    assert keys == local_keys and np.array_equal(X, local_X)
    models = client.run(lambda: len(sys.modules["metdata.dask_executor"]._MODELS)
                        if "metdata.dask_executor" in sys.modules else 0)
    assert sum(models.values()) >= 1 and max(models.values()) == 1  # one load per worker process


@pytest.mark.parametrize(("args", "message"), [
    (["--executor", "dask"], "Error: --executor dask needs --scheduler ADDRESS"),
    (["--scheduler", "tcp://127.0.0.1:8786"], "Error: --scheduler tcp://127.0.0.1:8786: only used with --executor dask"),
])
@pytest.mark.parametrize("command", ["crawl", "features"])
def test_dask_options_misused_give_one_line(command, args, message, server, tmp_path, capsys):
    if command == "crawl":
        argv = ["crawl", "met", "--out", str(tmp_path), "--api-url", server.met_api_url, *args]
    else:
        manifests.write([{"key": "MET/1/0.jpg", "object_id": 1}], manifests.split_path(tmp_path, "train"), "train")
        argv = ["features", "--root", str(tmp_path), "--random-weights", "--sets", "train", *args]
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.startswith(message) and err.count("\n") == 1


def test_an_unreachable_scheduler_is_a_user_error_within_the_timeout():
    from metdata.dask_executor import DaskExecutor

    started = time.monotonic()
    with pytest.raises(UserError, match=r"--scheduler tcp://127\.0\.0\.1:9: no Dask scheduler answered within 1 s"):
        DaskExecutor("tcp://127.0.0.1:9", connect_timeout_s=1)
    assert time.monotonic() - started < 15


@pytest.mark.parametrize("address", ["scheduler-without-port", "http://127.0.0.1:8786"])
def test_a_malformed_scheduler_address_is_a_user_error(address):
    from metdata.dask_executor import DaskExecutor

    with pytest.raises(UserError, match=f"--scheduler {address}: not a scheduler address .*tcp://10.0.0.5:8786"):
        DaskExecutor(address)


def test_without_dask_installed_the_executor_is_a_user_error(monkeypatch):
    from metdata.run import make_executor

    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    monkeypatch.delitem(sys.modules, "metdata.dask_executor", raising=False)
    with pytest.raises(UserError, match=r"needs Dask distributed: pip install 'metdata\[dask\]'"):
        make_executor("dask", 1, "tcp://127.0.0.1:8786")
