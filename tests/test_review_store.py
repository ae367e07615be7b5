"""Review decisions (append-only store, export/import, links for the split builder) and the page's JSON API."""

from __future__ import annotations

import io
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw

from metdata import manifests
from metdata.errors import UserError
from metdata.matching import match_root
from metdata.review import store
from metdata.review.app import ReviewServer, check_loopback

OBJECTS = [
    (101, "The Harvesters", "Pieter Bruegel the Elder", "1565", "19.164"),
    (102, "Wheat Field with Cypresses", "Vincent van Gogh", "1889", "1993.132"),
    (103, "Wheat Field with Reaper", "Vincent van Gogh", "1889", "1990.1.2"),
    (104, "Self-Portrait with a Straw Hat", "Vincent van Gogh", "1887", "67.187.70a"),
    (105, "The Great Wave off Kanagawa", "Katsushika Hokusai", "ca. 1830–32", "JP1847"),
    (106, "Young Woman with a Water Pitcher", "Johannes Vermeer", "ca. 1662", "89.15.21"),
]
# query_id -> (title, description, tags, true object)
QUERIES = {
    "a00000000001": ("Van Gogh at the Met", "wheat field and cypreses, lovely", ["vangogh"], 102),
    "a00000000002": ("Bruegel harvesters", "", ["#TheMet"], 101),
    "a00000000003": ("Kanagawa", "acc. no. JP1847", [], 105),
    "a00000000004": ("lunch with friends", "", ["food"], None),
}
DISTRACTORS = [("d00000000001", "art", "Portrait of a man"), ("d00000000002", "noart", "A bus stop")]
COLOURS = ["#8c2d19", "#d9b44a", "#3a6b35", "#2b4c7e", "#6b3a6b", "#c9c9c9", "#444444"]


def _image(path, colour: str, label: str, size=(480, 360)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.new("RGB", size, colour)
    ImageDraw.Draw(im).text((20, 20), label, fill="white")
    im.save(path, "JPEG", quality=85)


def make_root(root):
    """A small dataset root with every manifest the review page reads, and real JPEG files."""
    objects, exhibits = [], []
    for n, (oid, title, artist, date, acc) in enumerate(OBJECTS):
        objects.append(
            {
                "object_id": oid,
                "title": title,
                "artist": artist,
                "date": date,
                "accession_number": acc,
                "tags": [],
                "status": "ok",
                "department": "European Paintings",
                "n_images_kept": 2,
                "is_public_domain": True,
            }
        )
        for i in range(2):
            rel = f"images/MET/{oid}/{i}.jpg"
            _image(root / rel, COLOURS[n], f"{title} view {i}")
            exhibits.append({"object_id": oid, "image_index": i, "status": "kept", "path": rel})
    queries = []
    for n, (qid, (title, desc, tags, _)) in enumerate(QUERIES.items()):
        rel = f"images/test_met/{qid}.jpg"
        _image(root / rel, COLOURS[n], f"photo {title}", size=(360, 480))
        queries.append(
            {
                "query_id": qid,
                "source": "flickr",
                "photo_id": str(n),
                "photographer": f"p{n}@N01",
                "photographer_name": f"Visitor {n}",
                "title": title,
                "description": desc,
                "tags": tags,
                "status": "kept",
                "path": rel,
            }
        )
    queries.append(
        {"query_id": "a0000000000f", "source": "flickr", "title": "dropped", "status": "license_not_free"}
    )
    distractors = []
    for n, (did, kind, title) in enumerate(DISTRACTORS):
        rel = f"images/test_{'other' if kind == 'art' else 'noart'}/{did}.jpg"
        _image(root / rel, COLOURS[-1 - n], title)
        distractors.append(
            {
                "distractor_id": did,
                "kind": kind,
                "title": title,
                "category": "Test",
                "status": "kept",
                "path": rel,
            }
        )
    manifests.write(objects, manifests.manifest_path(root, "objects"), "objects")
    manifests.write(exhibits, manifests.manifest_path(root, "exhibits"), "exhibits")
    manifests.write(queries, manifests.manifest_path(root, "queries"), "queries")
    manifests.write(distractors, manifests.manifest_path(root, "distractors"), "distractors")
    match_root(root)
    return root


@pytest.fixture()
def root(tmp_path):
    return make_root(tmp_path / "root")


def run_cli(*argv):
    """The CLI in-process (success paths)."""
    from metdata.cli import cli

    return CliRunner().invoke(cli, list(argv))


def run_metdata(*argv):
    """The real entry point in a subprocess: exit status and the one-line error exactly as a user sees them."""
    return subprocess.run(
        [sys.executable, "-m", "metdata.cli", *argv], check=False, capture_output=True, text=True, timeout=60
    )


# -- store ------------------------------------------------------------------------------------------
def test_latest_decision_wins_and_survives_a_restart(root):
    s = store.DecisionStore(root, store.KnownIds(root))
    s.decide("query", "a00000000001", "accept", 103)
    s.decide("query", "a00000000001", "accept", 102)  # changed my mind
    s.decide("distractor", "d00000000002", "reject")
    lines = store.decisions_path(root).read_text().splitlines()
    assert len(lines) == 3  # append-only: nothing rewritten
    again = store.DecisionStore(root)
    assert again.get("query", "a00000000001")["object_id"] == 102
    assert store.rejected_distractors(root) == {"d00000000002"}


def test_a_torn_last_line_is_ignored_and_cut_off_by_the_next_append(root):
    s = store.DecisionStore(root, store.KnownIds(root))
    s.decide("query", "a00000000002", "accept", 101)
    with open(store.decisions_path(root), "a") as fh:
        fh.write('{"item_kind": "query", "item_id": "a000')  # the server died mid-write
    s2 = store.DecisionStore(root, store.KnownIds(root))
    assert s2.get("query", "a00000000002")["object_id"] == 101
    s2.decide("query", "a00000000003", "reject")
    records = store.read_jsonl(store.decisions_path(root))
    assert [r["item_id"] for r in records] == ["a00000000002", "a00000000003"]


def test_invalid_decisions_are_refused_and_not_written(root):
    s = store.DecisionStore(root, store.KnownIds(root))
    with pytest.raises(UserError, match="needs an integer object_id"):
        s.decide("query", "a00000000001", "accept")
    with pytest.raises(UserError, match="not among the crawled objects"):
        s.decide("query", "a00000000001", "accept", 999)
    with pytest.raises(UserError, match="unknown query id"):
        s.decide("query", "ffffffffffff", "reject")
    with pytest.raises(UserError, match="decision 'maybe'"):
        s.decide("distractor", "d00000000001", "maybe")
    assert not store.decisions_path(root).exists()


def test_accepted_links_layer_import_csv_auto_accept_and_human_decisions(root):
    matches = manifests.read(manifests.manifest_path(root, "matches"), "matches").to_pylist()
    auto = {m["query_id"]: m["object_id"] for m in matches if m["auto_accept"]}
    # title and artist named (a misspelling recovered); title and artist; the accession number
    assert auto == {"a00000000001": 102, "a00000000002": 101, "a00000000003": 105}
    queries = manifests.read(manifests.manifest_path(root, "queries"), "queries").to_pylist()
    for q in queries:
        if q["query_id"] == "a00000000004":
            q["met_object_id"] = 106  # as an import-photos CSV would set it
    manifests.write(queries, manifests.manifest_path(root, "queries"), "queries")
    assert store.accepted_links(root) == {**auto, "a00000000004": 106}
    s = store.DecisionStore(root, store.KnownIds(root))
    s.decide("query", "a00000000001", "accept", 103)  # a human overrides the auto-accept ...
    s.decide("query", "a00000000003", "reject")  # ... or rejects it
    s.decide("query", "a00000000004", "skip")  # no opinion: the CSV link stands
    assert store.accepted_links(root) == {"a00000000001": 103, "a00000000002": 101, "a00000000004": 106}


def test_export_then_import_into_another_root_reproduces_the_links(root, tmp_path):
    s = store.DecisionStore(root, store.KnownIds(root))
    s.decide("query", "a00000000001", "accept", 103)
    s.decide("query", "a00000000001", "accept", 102)
    s.decide("query", "a00000000002", "reject")
    s.decide("distractor", "d00000000001", "accept")
    out = manifests.manifest_path(root, "decisions")
    result = run_cli("review", "--root", str(root), "--export", str(out))
    assert result.exit_code == 0, result.output
    assert "exported 3 decisions" in result.output
    rows = manifests.read(out, "decisions").to_pylist()
    assert [(r["item_id"], r["decision"], r["object_id"]) for r in rows] == [
        ("d00000000001", "accept", None),
        ("a00000000001", "accept", 102),
        ("a00000000002", "reject", None),
    ]
    other = tmp_path / "other"
    shutil.copytree(root / "manifests", other / "manifests")
    result = run_cli("review", "--root", str(other), "--import", str(out))
    assert result.exit_code == 0, result.output
    assert store.accepted_links(other) == store.accepted_links(root)
    assert store.rejected_distractors(other) == store.rejected_distractors(root) == set()


def test_importing_a_decision_file_that_does_not_match_the_manifests_is_one_line_and_changes_nothing(
    root, tmp_path
):
    store.DecisionStore(root, store.KnownIds(root)).decide("query", "a00000000001", "accept", 102)
    before = store.decisions_path(root).read_bytes()
    bad = tmp_path / "bad.jsonl"
    good = {"item_kind": "query", "item_id": "a00000000002", "decision": "reject", "object_id": None}
    wrong = {"item_kind": "query", "item_id": "a00000000003", "decision": "accept", "object_id": 4242}
    bad.write_text(json.dumps(good) + "\n\n" + json.dumps(wrong) + "\n")
    proc = run_metdata("review", "--root", str(root), "--import", str(bad))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"Error: {bad}: line 3: object_id 4242 is not among the crawled objects"
    assert "Traceback" not in proc.stderr
    assert store.decisions_path(root).read_bytes() == before  # all or nothing
    unknown = tmp_path / "unknown.parquet"
    manifests.write([dict(good, item_id="ffffffffffff")], unknown, "decisions")
    with pytest.raises(UserError, match=r"unknown\.parquet: row 1: unknown query id 'ffffffffffff'"):
        store.import_decisions(root, unknown)


# -- the page's JSON API (the browser test drives the page itself) ----------------------------------
def _get(url, host=None):
    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, resp.headers.get("Content-Type"), resp.read()


def _post(url, payload, content_type="application/json"):
    req = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture()
def server(root):
    srv = ReviewServer(root)
    try:
        yield srv
    finally:
        srv.stop()


def test_api_pages_items_and_saves_decisions(server, root):
    _, ctype, body = _get(server.url + "api/items?offset=0&limit=2")
    page = json.loads(body)
    assert ctype.startswith("application/json")
    assert page["total"] == 6  # 4 kept queries + 2 distractors; the dropped photo is not reviewed
    assert [i["item_id"] for i in page["items"]] == ["a00000000001", "a00000000002"]
    first = page["items"][0]
    assert first["candidates"][0]["object_id"] == 102
    assert first["candidates"][0]["title"] == "Wheat Field with Cypresses"
    assert first["candidates"][0]["images"] == ["/thumb/exhibit/102/0?px=320", "/thumb/exhibit/102/1?px=320"]
    last = json.loads(_get(server.url + "api/items?offset=5&limit=50")[2])["items"]
    assert [(i["item_kind"], i["kind"]) for i in last] == [("distractor", "noart")]
    status, saved = _post(
        server.url + "api/decisions",
        {"item_kind": "query", "item_id": "a00000000001", "decision": "accept", "object_id": 102},
    )
    assert status == 200 and saved["saved"]["object_id"] == 102
    assert store.accepted_links(root)["a00000000001"] == 102
    assert (
        json.loads(_get(server.url + "api/items?offset=0&limit=1")[2])["items"][0]["decision"]["object_id"]
        == 102
    )
    assert json.loads(_get(server.url + "api/next-pending?after=-1")[2]) == {"index": 1}
    status, err = _post(
        server.url + "api/decisions",
        {"item_kind": "query", "item_id": "a00000000001", "decision": "accept", "object_id": 7},
    )
    assert status == 400 and "not among the crawled objects" in err["error"]
    status, err = _post(server.url + "api/decisions", {"item_kind": "query"}, content_type="text/plain")
    assert status == 415


def test_thumbnails_are_small_cached_jpegs_of_manifest_images_only(server, root):
    status, ctype, data = _get(server.url + "thumb/exhibit/101/1?px=160")
    assert (status, ctype) == (200, "image/jpeg")
    with Image.open(io.BytesIO(data)) as im:
        assert max(im.size) == 160
    assert len(list((root / "review" / "thumbs" / "160").glob("*.jpg"))) == 1
    for path in ["thumb/exhibit/101/7", "thumb/query/..%2F..%2Fetc", "thumb/distractor/a00000000001", "nope"]:
        with pytest.raises(urllib.error.HTTPError) as exc:
            _get(server.url + path)
        assert exc.value.code == 404


def test_requests_for_other_host_names_and_non_loopback_addresses_are_refused(server):
    with pytest.raises(urllib.error.HTTPError) as exc:
        _get(server.url + "api/items", host="evil.example:80")
    assert exc.value.code == 403
    with pytest.raises(UserError, match="loopback only"):
        check_loopback("0.0.0.0")
    proc = run_metdata("review", "--root", "x", "--host", "192.168.1.5", "--no-open")
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith(
        "Error: --host 192.168.1.5: the review page listens on loopback only"
    )


def test_the_review_command_serves_until_ctrl_c(root):
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "metdata.cli", "review", "--root", str(root), "--no-open"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        first = proc.stdout.readline()
        url = re.match(r"Review page: (http://127\.0\.0\.1:\d+/)  \(6 items; Ctrl-C to stop\)", first).group(
            1
        )
        assert json.loads(_get(url + "api/items?limit=1")[2])["total"] == 6
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert f"Stopped; decisions are in {store.decisions_path(root)}" in out


def test_a_busy_port_is_one_error_line(root):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = run_metdata("review", "--root", str(root), "--port", str(port), "--no-open")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith(f"Error: --port {port}: cannot listen on 127.0.0.1:{port}")
