"""`metdata crawl flickr` and its client against the sample museum's Flickr: rows, licences, resume, faults."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from cli_runner import run_cli

from metdata.cli import main
from metdata.errors import UserError
from metdata.http import RateLimiter
from metdata.sample.server import Response, SampleServer
from metdata.sources.flickr import LICENSES, FlickrClient, Photo, image_url, parse_photo
from metdata.stages.flickr_photo import FREE_LICENSE_IDS

FREE_NAMES = {LICENSES[i][0] for i in FREE_LICENSE_IDS}


def _cli(capsys, server, root, *args) -> tuple[int, str, str]:
    argv = ["crawl", "flickr", "--out", str(root), "--api-key", "testkey", "--api-secret", "testsecret",
            "--rest-url", server.flickr_rest_url, "--rate-per-s", "1000", "--image-rate-per-s", "1000",
            "--no-progress", *args]
    return run_cli(argv, capsys)


def _rows(root) -> list[dict]:
    return pq.read_table(Path(root) / "manifests" / "queries.parquet").to_pylist()


def _static_hits(server) -> Counter:
    return Counter(r.path for r in server.requests_to("/flickr-static/"))


def _users_with_mixed_licences(world, n=2) -> list[str]:
    by_owner: dict[str, set[bool]] = {}
    for p in world.photos:
        by_owner.setdefault(p.owner, set()).add(p.license in FREE_LICENSE_IDS)
    return sorted(o for o, kinds in by_owner.items() if kinds == {True, False})[:n]


def _client(server, **kwargs) -> FlickrClient:
    return FlickrClient("testkey", "testsecret", limiter=RateLimiter(1000), rest_url=server.flickr_rest_url,
                        backoff_s=0.01, **kwargs)


def test_crawl_by_user_one_row_per_photo(sample_server, world, tmp_path, capsys):
    users = _users_with_mixed_licences(world)
    code, out, err = _cli(capsys, sample_server, tmp_path, *[a for u in users for a in ("--user-id", u)])
    assert code == 0, err
    truth = {p.photo_id: p for p in world.photos if p.owner in users}
    rows = _rows(tmp_path)
    assert sorted(r["photo_id"] for r in rows) == sorted(truth)
    for row in rows:
        photo = truth[row["photo_id"]]
        assert row["query_id"] == hashlib.sha1(f"flickr:{photo.photo_id}".encode()).hexdigest()[:12]
        assert (row["source"], row["photographer"], row["title"]) == ("flickr", photo.owner, photo.title)
        assert row["tags"] == photo.tags and row["license"] == LICENSES[photo.license][0]
        assert row["page_url"] == f"https://www.flickr.com/photos/{photo.owner}/{photo.photo_id}/"
        if photo.license in FREE_LICENSE_IDS:
            assert row["status"] == "kept", row
            assert max(row["width"], row["height"]) <= 500 and (tmp_path / row["path"]).is_file()
            assert row["phash"] and row["sha256"] and row["attribution"].endswith(row["license"])
        else:
            assert row["status"] == "license_not_free" and row["path"] is None
    assert f"Kept: {sum(p.license in FREE_LICENSE_IDS for p in truth.values())} " in out


def test_licence_filter_on_every_photo_and_resume_fetches_nothing_twice(sample_server, world, tmp_path, capsys):
    users_file = tmp_path / "users.txt"
    users_file.write_text("# every photographer\n" + "\n".join(p.nsid for p in world.photographers) + "\n")
    code, _, err = _cli(capsys, sample_server, tmp_path / "root", "--user-ids-file", str(users_file))
    assert code == 0, err
    rows = _rows(tmp_path / "root")
    assert len(rows) == len(world.photos)
    licence_of = {p.photo_id: p.license for p in world.photos}
    for row in rows:  # no kept row, ever, with a licence that forbids redistribution
        free = licence_of[row["photo_id"]] in FREE_LICENSE_IDS
        assert (row["status"] == "kept") == free and (row["license"] in FREE_NAMES) == free
    fetched = _static_hits(sample_server)
    non_free = [p for p in world.photos if p.license not in FREE_LICENSE_IDS]
    assert not [p for p in non_free if any(f"/{p.photo_id}_" in path for path in fetched)]
    assert max(fetched.values()) == 1

    sample_server.reset()
    code, out, err = _cli(capsys, sample_server, tmp_path / "root", "--user-ids-file", str(users_file))
    assert code == 0, err
    assert not _static_hits(sample_server)
    assert f"({len(world.photos)} finished by an earlier run)" in out
    assert len(_rows(tmp_path / "root")) == len(world.photos)


def test_rerun_retries_only_failed_downloads(sample_server, world, tmp_path, capsys):
    users = _users_with_mixed_licences(world, n=3)
    args = [a for u in users for a in ("--user-id", u)]
    sample_server.faults.fault_prefix = "/flickr-static/"
    sample_server.faults.next_statuses = [500, 500]
    code, _, err = _cli(capsys, sample_server, tmp_path, "--max-retries", "0", "--workers", "1", *args)
    assert code == 0, err
    failed = {r["photo_id"] for r in _rows(tmp_path) if r["status"] == "http_error"}
    assert len(failed) == 2
    first_paths = set(_static_hits(sample_server))
    sample_server.reset()
    code, _, err = _cli(capsys, sample_server, tmp_path, *args)
    assert code == 0, err
    again = _static_hits(sample_server)
    assert {path.rsplit("/", 1)[1].split("_")[0] for path in again} == failed
    assert all(again[p] == 1 for p in again) and not (set(again) - first_paths)
    assert not [r for r in _rows(tmp_path) if r["status"] == "http_error"]


def test_deleted_photos_and_placeholders(sample_server, world, tmp_path, capsys):
    user = _users_with_mixed_licences(world, n=1)[0]
    free = [p.photo_id for p in world.photos if p.owner == user and p.license in FREE_LICENSE_IDS]
    modes = dict(zip(free, ["placeholder", "redirect", "404"]))
    sample_server.faults.extra["flickr_deleted"] = modes
    code, _, err = _cli(capsys, sample_server, tmp_path, "--user-id", user)
    assert code == 0, err
    status = {r["photo_id"]: r["status"] for r in _rows(tmp_path)}
    expected = {"placeholder": "placeholder", "redirect": "placeholder", "404": "not_found"}
    assert {pid: status[pid] for pid in modes} == {pid: expected[m] for pid, m in modes.items()}


def test_partitions_past_the_result_window_and_dedupes(sample_server, world):
    sample_server.faults.extra["flickr_result_window"] = 10
    truth = {p.photo_id for p in world.photos if "met" in f"{p.title} {p.description} {' '.join(p.tags)}".casefold()}
    assert len(truth) > 30
    client = _client(sample_server, result_window=10, per_page=5)
    found = [p.photo_id for p in client.search(text="met")]
    assert sorted(found) == sorted(truth) and len(found) == len(set(found))
    assert not client.truncated_windows
    naive = _client(sample_server, result_window=10**6, per_page=5)  # trusts pages past the window
    seen = [p.photo_id for p in naive.search(text="met")]
    assert len(set(seen)) == 10  # the fake repeats earlier results past its 10-result window


def test_outage_and_5xx_are_retried(sample_server, world):
    user = world.photos[0].owner
    expected = sorted(p.photo_id for p in world.photos if p.owner == user)
    sample_server.faults.extra["flickr_outage"] = 2
    client = _client(sample_server)
    assert sorted(p.photo_id for p in client.search(user_id=user)) == expected
    assert client.retries == 2
    sample_server.faults.fault_prefix, sample_server.faults.next_statuses = "/services/rest/", [502, 503]
    client = _client(sample_server)
    assert sorted(p.photo_id for p in client.search(user_id=user)) == expected and client.retries == 2
    sample_server.faults.extra["flickr_outage"] = True
    with pytest.raises(UserError, match="still failing after 2 retries"):
        list(_client(sample_server, max_retries=2).search(user_id=user))


def test_retry_after_is_honoured_and_a_mistyped_url_is_not_retried(sample_server, world):
    user = world.photos[0].owner
    sample_server.faults.fault_prefix, sample_server.faults.next_statuses = "/services/rest/", [429]
    sample_server.faults.retry_after_s = 0.5
    client = _client(sample_server)  # its own back-off is 0.01 s
    assert list(client.search(user_id=user)) and client.retries == 1
    first, second = sample_server.requests_to("/services/rest/")[:2]
    assert second.time - first.time >= 0.45
    sample_server.faults.next_statuses, sample_server.faults.retry_after_s = [503], 3600
    with pytest.raises(UserError, match="Retry-After 3600 s exceeds the 120 s limit"):
        list(_client(sample_server).search(user_id=user))
    mistyped = FlickrClient("k", "s", limiter=RateLimiter(1000), rest_url="api.flickr.com/services/rest/",
                            backoff_s=30)
    with pytest.raises(UserError, match="api.flickr.com/services/rest/ failed: .*No scheme supplied"):
        list(mistyped.search(text="met"))
    assert mistyped.retries == 0


class _AnswersWithoutPhotos:
    prefixes = ("/rest/",)

    def handle(self, request, server):
        return Response(200, b'{"stat": "ok"}', "application/json")


def test_a_search_answer_without_photos_is_a_user_error():
    with SampleServer([_AnswersWithoutPhotos()]) as server:
        client = FlickrClient("k", "s", limiter=RateLimiter(1000), rest_url=server.url + "/rest/")
        with pytest.raises(UserError, match="/rest/: malformed answer .*got {'stat': 'ok'}"):
            list(client.search(text="met"))
        assert client.retries == 0


def test_every_call_passes_the_rate_limiter(sample_server, world):
    class Counting:
        acquired = 0

        def acquire(self):
            self.acquired += 1

    limiter = Counting()
    client = FlickrClient("testkey", "s", limiter=limiter, rest_url=sample_server.flickr_rest_url, per_page=3)
    photos = list(client.search(user_id=world.photos[0].owner))
    assert limiter.acquired == client.calls == len(sample_server.requests_to("/services/rest/"))
    assert client.calls == -(-len(photos) // 3)  # one call per page of results, none per photo


@pytest.mark.parametrize("args, env, message", [
    ([], {}, "no Flickr API key: pass --api-key or set METDATA_FLICKR_KEY"),
    (["--api-key", "k"], {}, "no Flickr API secret"),
    (["--api-key", "k", "--api-secret", "s"], {}, "nothing to search"),
    (["--api-key", "k", "--api-secret", "s", "--text", "x", "--min-upload-date", "\u00b2"], {},
     "--min-upload-date '\u00b2': expected YYYY-MM-DD or Unix seconds"),
    (["--api-key", "k", "--api-secret", "s", "--text", "x", "--timeout-s", "0"], {},
     "Invalid value for '--timeout-s'"),
])
def test_missing_key_or_criteria_is_a_one_line_error(monkeypatch, tmp_path, capsys, args, env, message):
    monkeypatch.delenv("METDATA_FLICKR_KEY", raising=False)
    monkeypatch.delenv("METDATA_FLICKR_SECRET", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        main(["crawl", "flickr", "--out", str(tmp_path), "--rest-url", "http://127.0.0.1:9/services/rest/", *args])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.startswith(f"Error: {message}") and err.count("\n") == 1
    assert not (tmp_path / "manifests").exists()


def test_key_from_environment_expired_key_and_empty_result(sample_server, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("METDATA_FLICKR_KEY", "envkey")
    monkeypatch.setenv("METDATA_FLICKR_SECRET", "envsecret")
    base = ["crawl", "flickr", "--out", str(tmp_path), "--rest-url", sample_server.flickr_rest_url, "--no-progress"]
    with pytest.raises(SystemExit) as empty:
        main([*base, "--text", "no-such-words-anywhere"])
    err = capsys.readouterr().err
    assert empty.value.code == 2 and "Flickr found no photos for text 'no-such-words-anywhere'" in err
    assert err.count("\n") == 1 and not (tmp_path / "manifests").exists()
    assert 'oauth_consumer_key="envkey"' in sample_server.requests_to("/services/rest/")[-1].headers["authorization"]
    sample_server.faults.extra["flickr_call_budget"] = 0
    with pytest.raises(SystemExit) as expired:
        main([*base, "--text", "met"])
    err = capsys.readouterr().err
    assert expired.value.code == 2 and "Key has expired" in err and err.count("\n") == 1


def test_parse_photo_coerces_mixed_types():
    raw = {"id": 123, "owner": "1@N01", "secret": "abc", "server": 65535, "title": "T",
           "description": {"_content": "d"}, "license": 4, "dateupload": "1581319011", "datetaken": "2020-01-01 10:00:00",
           "datetakenunknown": "0", "tags": "a b", "ownername": "Zoë",
           "url_m": "http://h/1.jpg", "width_m": "500", "height_m": 375,
           "url_l": "http://h/2.jpg", "width_l": 1024, "height_l": "768", "url_o": "http://h/3.jpg"}
    photo = parse_photo(raw)
    assert (photo.photo_id, photo.server, photo.license, photo.date_upload) == ("123", "65535", "4", 1581319011)
    assert photo.description == "d" and photo.tags == ("a", "b")
    assert photo.sizes == (("m", "http://h/1.jpg", 500, 375), ("l", "http://h/2.jpg", 1024, 768))  # url_o: no size
    assert parse_photo({"id": "1", "license": None, "datetakenunknown": "1", "datetaken": "x"}).license == "0"
    assert parse_photo({"id": "1", "datetakenunknown": "1", "datetaken": "2020-01-01"}).date_taken is None


def test_image_url_picks_the_smallest_covering_size():
    sizes = (("m", "u500", 500, 375), ("z", "u640", 640, 480), ("l", "u1024", 1024, 768))
    photo = Photo("9", "o", "", "abc", "77", "", "", (), "4", None, None, sizes)
    assert image_url(photo, 500) == ("u500", "m")
    assert image_url(photo, 600) == ("u640", "z")
    assert image_url(photo, 2000) == ("u1024", "l")
    bare = Photo("9", "o", "", "abc", "77", "", "", (), "4", None, None, ())
    assert image_url(bare, 500, "http://static.example/")[0] == "http://static.example/77/9_abc.jpg"
    assert image_url(bare, 700, "http://static.example")[0] == "http://static.example/77/9_abc_c.jpg"


def test_expired_key_mid_crawl_keeps_finished_rows(sample_server, world, tmp_path, capsys):
    users = _users_with_mixed_licences(world, n=3)
    args = ["--workers", "1", *[a for u in users for a in ("--user-id", u)]]
    sample_server.faults.extra["flickr_call_budget"] = 2  # one search call per photographer
    code, _, err = _cli(capsys, sample_server, tmp_path, *args)
    assert code == 2 and "Key has expired" in err and err.count("\n") == 1
    first_two = {p.photo_id for p in world.photos if p.owner in users[:2]}
    saved = {r["photo_id"] for r in _rows(tmp_path)}
    assert saved and saved <= first_two
    sample_server.reset()
    code, out, err = _cli(capsys, sample_server, tmp_path, *args)
    assert code == 0, err
    assert {r["photo_id"] for r in _rows(tmp_path)} == {p.photo_id for p in world.photos if p.owner in users}
    assert f"({len(saved)} finished by an earlier run)" in out


def test_unknown_photographer_is_named_in_the_error(sample_server, tmp_path, capsys):
    code, _, err = _cli(capsys, sample_server, tmp_path, "--user-id", "1@N01")
    assert code == 2 and err.count("\n") == 1
    assert "user_id='1@N01'" in err and "Unknown user" in err
