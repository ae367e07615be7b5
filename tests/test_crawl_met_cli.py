"""`metdata crawl met` on the command line: the summary, recipes, and one clear line for bad input."""

from __future__ import annotations

import socket
import subprocess
import sys
import tomllib
from dataclasses import asdict
from pathlib import Path

import pytest
from cli_runner import run_cli

from metdata import manifests
from metdata.stages.met_object import ImageParams

RECIPE = Path(__file__).resolve().parent.parent / "pipelines" / "met2021.toml"


def crawl_args(server, root, *extra: str) -> list[str]:
    return ["crawl", "met", "--out", str(root), "--api-url", server.met_api_url, "--rate-per-s", "1000",
            "--no-progress", *extra]


def some_ids(world, n: int) -> str:
    return ",".join(str(oid) for oid in [oid for oid, obj in world.objects.items() if obj.expected_kept][:n])


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


def test_crawl_prints_the_summary(sample_server, world, tmp_path, capsys):
    ids = some_ids(world, 3)
    code, out, err = run_cli(crawl_args(sample_server, tmp_path, "--object-ids", ids), capsys)
    assert code == 0, err
    kept = sum(world.objects[int(i)].expected_kept for i in ids.split(","))
    assert "Objects seen: 3" in out
    assert "Public-domain objects: 3" in out
    assert f"Images kept: {kept}" in out
    assert "Requests: " in out and "retries 0" in out


def test_departments_by_name_and_limit(sample_server, world, tmp_path, capsys):
    department = world.departments[0]
    members = sorted(oid for oid, obj in world.objects.items() if obj.department_id == department["departmentId"])
    code, _, err = run_cli(crawl_args(sample_server, tmp_path, "--departments", department["displayName"].upper(),
                                      "--limit", "2"), capsys)
    assert code == 0, err
    objects = manifests.read(tmp_path / "manifests/objects.parquet", "objects").to_pylist()
    assert [r["object_id"] for r in objects] == members[:2]


def test_search_pages_v1_1_when_v1_is_retired(sample_server, world, tmp_path, capsys):
    sample_server.faults.extra["met_search_retired"] = True
    title = next(obj.record["title"] for obj in world.objects.values() if obj.expected_kept)
    code, _, err = run_cli(crawl_args(sample_server, tmp_path, "--search", title, "--limit", "1"), capsys)
    assert code == 0, err
    paths = [r.path for r in sample_server.log]
    assert "/public/collection/v1/search" in paths and "/public/collection/v1.1/search" in paths
    objects = manifests.read(tmp_path / "manifests/objects.parquet", "objects").to_pylist()
    assert objects[0]["title"] == title


def test_recipe_sets_defaults_and_options_override_it(sample_server, world, tmp_path, capsys):
    recipe = tomllib.loads(RECIPE.read_text())["crawl"]["met"]
    defaults = asdict(ImageParams())
    assert {k: v for k, v in recipe.items() if k in defaults} == defaults  # the default crawl is the 2021 one
    ids = some_ids(world, 1)
    code, _, err = run_cli(crawl_args(sample_server, tmp_path, "--recipe", str(RECIPE), "--object-ids", ids,
                                      "--max-side-px", "300"), capsys)
    assert code == 0, err
    parameters = manifests.read_metadata(tmp_path / "manifests/exhibits.parquet")["parameters"]
    assert parameters == {**defaults, "max_side_px": 300}


def test_recipe_with_an_unknown_key(sample_server, tmp_path, capsys):
    recipe = tmp_path / "bad.toml"
    recipe.write_text("[crawl.met]\nmax_side = 500\n")
    code, _, err = run_cli(crawl_args(sample_server, tmp_path / "out", "--recipe", str(recipe)), capsys)
    assert_one_line_error(code, err, "unknown keys ['max_side']", str(recipe))


@pytest.mark.parametrize(
    "extra, fragments",
    [
        (["--departments", "Underwater Basket Weaving"], ["unknown department 'Underwater Basket Weaving'",
                                                          "/v1/departments"]),
        (["--departments", "11,999"], ["unknown department '999'"]),
        (["--object-ids", "../../etc/passwd"], ["'../../etc/passwd' is not a Met object id"]),
        (["--object-ids", "12,abc"], ["'abc' is not a Met object id"]),
        (["--object-ids", "\u00b2"], ["'\u00b2' is not a Met object id"]),  # a digit to str.isdigit, not to int()
        (["--departments", "11,\u00b2"], ["unknown department '\u00b2'"]),
        (["--object-ids", "1", "--search", "cat"], ["--object-ids cannot be combined"]),
        (["--updated-since", "last week"], ["--updated-since 'last week'", "YYYY-MM-DD"]),
        (["--max-aspect-ratio", "0.5"], ["--max-aspect-ratio", "0.5 is not in the range x>=1"]),
    ],
)
def test_bad_input_is_one_line(sample_server, tmp_path, capsys, extra, fragments):
    code, _, err = run_cli(crawl_args(sample_server, tmp_path, *extra), capsys)
    assert_one_line_error(code, err, *fragments)
    assert not (tmp_path / "manifests" / "exhibits.parquet").exists()


def test_object_ids_file_with_a_path_inside(sample_server, tmp_path, capsys):
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("45734\n/etc/passwd\n")
    code, _, err = run_cli(crawl_args(sample_server, tmp_path / "out", "--object-ids-file", str(ids_file)), capsys)
    assert_one_line_error(code, err, str(ids_file), "'/etc/passwd' is not a Met object id")


def test_malformed_api_response(sample_server, tmp_path, capsys):
    sample_server.faults.extra["malformed_json"] = True
    code, _, err = run_cli(crawl_args(sample_server, tmp_path, "--object-ids", "45734"), capsys)
    assert_one_line_error(code, err, f"{sample_server.met_api_url}/v1/departments: malformed response")


def test_unreachable_server_through_the_console_script(tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/public/collection"
    proc = subprocess.run(
        [sys.executable, "-m", "metdata.cli", "crawl", "met", "--out", str(tmp_path), "--api-url", url,
         "--max-retries", "0", "--object-ids", "1"],
        check=False, capture_output=True, text=True, timeout=120,
    )
    assert_one_line_error(proc.returncode, proc.stderr, f"cannot reach {url}/v1/departments")
