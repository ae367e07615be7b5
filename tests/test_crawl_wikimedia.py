"""`crawl wikimedia` against the sample museum's Commons: licence filter, Met copies, resume, etiquette."""

from __future__ import annotations

import hashlib
import urllib.parse
from collections import Counter
from pathlib import Path

import pytest
from commons_big_world import BIG, build_big_world
from PIL import Image

from metdata import manifests
from metdata.cli import main
from metdata.distractor_crawl import crawl_distractors
from metdata.http import HttpError, PoliteSession
from metdata.leakage import check_leakage
from metdata.met_crawl import HttpParams, Selection, crawl_met
from metdata.sample.commons_api import CONTACT, GENERIC_UA, CommonsService
from metdata.sample.server import SampleServer
from metdata.sample.world_commons import CATS, EMPTY, KODAK, NASA, PD_ART, SKIMAGE, UKIYO_E, VAN_GOGH
from metdata.sources.wikimedia import CommonsClient, is_public_domain, strip_utm, user_agent

ART = [VAN_GOGH, PD_ART, UKIYO_E]
NOART = [KODAK, CATS, NASA, SKIMAGE]


def crawl(server, root: Path, categories, kind: str, depth: int = 1, **options):
    return crawl_distractors(root, categories, kind, depth=depth, api_url=server.commons_api_url,
                             rate_per_s=1000, progress=False, **options)


def rows(root: Path) -> dict[int, dict]:
    table = manifests.read(manifests.manifest_path(root, "distractors"), "distractors")
    return {r["pageid"]: r for r in table.to_pylist()}


def in_categories(world, names, depth: int = 1) -> set[int]:
    """Ground truth: the page ids a walk of `names` to `depth` must list."""
    found, frontier, seen = set(), [(n, 0) for n in names], set(names)
    while frontier:
        name, level = frontier.pop()
        category = world.commons_categories[name]
        found.update(category.files)
        for sub in category.subcategories if level < depth else []:
            if sub not in seen:
                seen.add(sub)
                frontier.append((sub, level + 1))
    return found


def upload_hits(server) -> list[str]:
    return [r.path for r in server.requests_to("/wikipedia/commons/")]


def met_exhibits(server, root: Path) -> None:
    """Crawl the Met objects that Commons copies (and the ones its hard negatives resemble)."""
    world = server.world
    ids = {f.met_object_id for f in world.commons_files.values() if f.met_object_id} | {436535, 436532}
    crawl_met(root, server.met_api_url, Selection(object_ids=tuple(sorted(ids & set(world.objects)))),
              http_params=HttpParams(rate_per_s=1000, workers=4, max_retries=1), progress=False)


def test_every_file_gets_a_row_and_no_kept_row_is_ever_non_free(sample_server, tmp_path):
    world = sample_server.world
    crawl(sample_server, tmp_path, ART, "art")
    summary = crawl(sample_server, tmp_path, NOART, "noart")
    got = rows(tmp_path)
    assert set(got) == in_categories(world, ART) | in_categories(world, NOART)
    statuses = Counter(r["status"] for r in got.values())
    assert statuses["kept"] >= 50 and statuses["not_public_domain"] >= 5
    for pageid, row in got.items():
        truth = world.commons_files[pageid]
        if row["status"] == "kept":
            assert truth.is_free, row["title"]
            image = Image.open(tmp_path / row["path"])
            assert max(image.size) <= 500 and row["path"].startswith(
                "images/test_other/" if truth.kind == "art" else "images/test_noart/")
        if not truth.is_free:
            assert row["status"] == "not_public_domain" and row["error"].startswith("licence ")
        assert row["kind"] == truth.kind
        assert row["distractor_id"] == hashlib.sha1(f"commons:{pageid}".encode()).hexdigest()[:12]
        assert "utm_" not in (row["source_url"] or "")
    credited = [f.pageid for f in world.commons_files.values() if f.met_object_id and "MET " in f.title]
    assert credited and all(got[p]["status"] == "met_copy" and "names The Metropolitan" in got[p]["error"]
                            for p in credited)
    assert any(line.startswith("Distractors kept:") for line in summary.lines())


def test_met_copy_by_hash_whether_exhibits_come_before_or_after(sample_server, tmp_path):
    world = sample_server.world
    rehosted = [f for f in world.commons_files.values() if f.met_object_id and "MET " not in f.title]
    hard_negatives = [f.pageid for f in world.commons_files.values()
                      if "Wheat Field" in f.title and "Straw Hat" not in f.title and f.met_object_id is None]
    assert len(rehosted) == 1 and hard_negatives
    copy = rehosted[0]

    crawl(sample_server, tmp_path, [PD_ART, VAN_GOGH], "art", depth=0)  # no exhibits yet: metadata only
    assert rows(tmp_path)[copy.pageid]["status"] == "kept"
    met_exhibits(sample_server, tmp_path)
    summary = check_leakage(tmp_path)
    assert summary.flagged["distractors"] == 1
    flagged = rows(tmp_path)[copy.pageid]
    assert flagged["status"] == "met_copy" and flagged["path"] is None
    assert flagged["duplicate_of"].startswith(f"images/MET/{copy.met_object_id}/")
    assert not list((tmp_path / "images/test_other").glob(f"{flagged['distractor_id']}.*"))
    crawl(sample_server, tmp_path, [CATS], "noart", depth=0)  # another category: compaction keeps the flag
    assert rows(tmp_path)[copy.pageid] == flagged

    sample_server.reset()
    crawl(sample_server, tmp_path, [PD_ART, VAN_GOGH], "art", depth=0)  # resumes, now with exhibits
    again = rows(tmp_path)
    assert again[copy.pageid]["status"] == "met_copy" and again[copy.pageid]["duplicate_of"]
    assert all(again[p]["status"] == "kept" for p in hard_negatives)  # other versions are not copies
    assert len(upload_hits(sample_server)) == 1  # only the vanished copy was looked at again


def test_resumed_crawl_does_not_download_finished_files(sample_server, tmp_path):
    crawl(sample_server, tmp_path, [KODAK], "noart")
    first = upload_hits(sample_server)
    kept = [r for r in rows(tmp_path).values() if r["status"] == "kept"]
    assert len(first) == len(kept) > 10
    sample_server.reset()
    summary = crawl(sample_server, tmp_path, [KODAK], "noart")
    assert upload_hits(sample_server) == [] and summary.resumed == summary.files
    (tmp_path / kept[0]["path"]).unlink()
    sample_server.reset()
    crawl(sample_server, tmp_path, [KODAK], "noart")
    assert len(upload_hits(sample_server)) == 1 and (tmp_path / kept[0]["path"]).exists()


def test_maxlag_backoff_honours_retry_after_and_the_user_agent_has_contact(sample_server, tmp_path):
    sample_server.faults.extra.update(commons_lagged_requests=2, commons_retry_after_s=1)
    crawl(sample_server, tmp_path, [CATS], "noart", contact="crawler-ops@example.org")
    api = sample_server.requests_to("/w/api.php")
    assert all(r.query.get("maxlag") == "5" and r.query.get("formatversion") == "2" for r in api)
    assert all("crawler-ops@example.org" in r.user_agent for r in sample_server.log)
    assert api[1].query == api[0].query and api[2].query == api[0].query  # the same request, retried
    assert api[1].time - api[0].time >= 0.95 and api[2].time - api[1].time >= 0.95
    assert sum(r["status"] == "kept" for r in rows(tmp_path).values()) == 1


def test_429_rate_limit_is_waited_out(sample_server, tmp_path):
    sample_server.faults.extra.update(commons_rate_per_window=2, commons_rate_window_s=1)
    summary = crawl(sample_server, tmp_path, [KODAK], "noart")
    assert summary.http["throttled"] >= 1
    assert summary.statuses["kept"] == len([r for r in rows(tmp_path).values() if r["status"] == "kept"]) > 10


def test_iicontinue_batches_and_miser_pages_are_merged_by_pageid(tmp_path):
    server = SampleServer([CommonsService(build_big_world())]).start()
    server.commons_api_url = server.url + "/w/api.php"
    server.faults.extra.update(commons_miser=True, commons_transform_limit=20)  # 20 thumbnails per request
    try:
        summary = crawl(server, tmp_path, [BIG], "noart")
        api = server.requests_to("/w/api.php")
    finally:
        server.stop()
    got = rows(tmp_path)
    assert len(got) == summary.files == 120 and all(r["status"] == "kept" for r in got.values())
    assert any("iicontinue" in r.query for r in api) and any("gcmcontinue" in r.query for r in api)
    assert all(r.query.get("continue") for r in api if any(k.endswith("continue") and k != "continue"
                                                              for k in r.query))


def test_cli_unknown_and_empty_category_are_one_line_errors(sample_server, tmp_path, capsys):
    base = ["crawl", "wikimedia", "--out", str(tmp_path), "--kind", "art", "--api-url",
            sample_server.commons_api_url, "--rate-per-s", "1000", "--no-progress"]
    for category, message in [("No such category at all", "does not exist on"), (EMPTY, "holds no files")]:
        with pytest.raises(SystemExit) as exit_info:
            main([*base, "--category", category])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("Error: ") and message in err and err.count("\n") == 1
    assert not manifests.manifest_path(tmp_path, "distractors").exists()
    api_requests = len(sample_server.requests_to("/w/api.php"))
    for option, value in [("--workers", "8"), ("--timeout-s", "-1"), ("--met-copy-max-hamming", "-3"),
                          ("--depth", "-1")]:
        with pytest.raises(SystemExit) as exit_info:
            main([*base, "--category", CATS, option, value])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("Error: ") and option in err and err.count("\n") == 1
    assert len(sample_server.requests_to("/w/api.php")) == api_requests  # refused before any request


def test_our_user_agent_passes_the_gate_and_a_generic_one_is_refused(sample_server):
    for ua in (user_agent(), user_agent("https://example.org/me")):
        assert CONTACT.search(ua) and not GENERIC_UA.match(ua)
    session = PoliteSession(rate_per_s=None, max_retries=0, user_agent="python-requests/2.32.3")
    with session, pytest.raises(HttpError) as error:
        CommonsClient(session, sample_server.commons_api_url).category_exists(f"Category:{CATS}")
    assert error.value.status == 403


def test_public_domain_rule_and_utm_stripping():
    def meta(**values):
        return {k: {"value": v} for k, v in values.items()}

    assert is_public_domain(meta(License="pd", Copyrighted="False"))
    assert is_public_domain(meta(License="cc0", Copyrighted="True"))  # CC0 files say "True"
    assert not is_public_domain(meta(License="pd", Copyrighted="True"))
    assert not is_public_domain(meta(Copyrighted="False"))  # Copyrighted alone is not the test
    assert not is_public_domain(meta(License="cc-by-sa-4.0", Copyrighted="True"))
    assert not is_public_domain(meta(LicenseShortName="No restrictions", Copyrighted="True"))
    assert not is_public_domain(meta(License="pd", Copyrighted="False", NonFree="true"))
    url = "https://upload.wikimedia.org/a/ab/X.jpg?utm_source=commons.wikimedia.org&utm_content=original&page=2"
    assert strip_utm(url) == "https://upload.wikimedia.org/a/ab/X.jpg?page=2"
    assert urllib.parse.urlsplit(strip_utm(url.split("&page")[0])).query == ""
