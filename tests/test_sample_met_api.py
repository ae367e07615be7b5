"""The Met Collection API stand-in, checked with plain HTTP against source_apis.md A and D.1."""

from __future__ import annotations

import http.client
import io
import json
import socket
from urllib.parse import urlsplit

import pytest
import requests
from click.testing import CliRunner
from PIL import Image

from metdata.sample import met_api
from metdata.sample.met_records import RECORD_KEYS


def _get(server, path: str, **kwargs) -> requests.Response:
    return requests.get(server.met_api_url + path, timeout=10, **kwargs)


def _primary(world, note: str):
    return next(o for o in world.objects.values() if note in o.notes)


def test_objects_lists_every_id_unordered_and_filters(sample_server, world):
    body = _get(sample_server, "/v1/objects").json()
    assert body["total"] == len(body["objectIDs"]) == len(world.objects)
    assert body["objectIDs"] != sorted(body["objectIDs"])
    in_1_or_3 = _get(sample_server, "/v1/objects", params={"departmentIds": "1|3"}).json()
    expected = {i for i, o in world.objects.items() if o.department_id in (1, 3)}
    assert set(in_1_or_3["objectIDs"]) == expected and in_1_or_3["total"] == len(expected)
    assert _get(sample_server, "/v1/objects", params={"departmentIds": "999"}).json() == {"total": 0, "objectIDs": []}
    since = _get(sample_server, "/v1/objects", params={"metadataDate": "2024-01-01"}).json()
    expected = {i for i, o in world.objects.items() if o.record["metadataDate"] >= "2024-01-01"}
    assert set(since["objectIDs"]) == expected and 0 < len(expected) < len(world.objects)


@pytest.mark.parametrize("bad", ["notadate", "2024-13-01", "2024-1-1"])
def test_bad_metadata_date_is_a_bare_json_string(sample_server, bad):
    response = _get(sample_server, "/v1/objects", params={"metadataDate": bad})
    assert response.status_code == 400
    assert response.content == b'"Date not valid. Dates must be in the format YYYY-MM-DD e.g. 1987-05-03"'


def test_object_record_is_served_byte_for_byte(sample_server, world):
    response = _get(sample_server, "/v1/objects/352204")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    expected = json.dumps(world.objects[352204].record, ensure_ascii=False, separators=(",", ":")).encode()
    assert response.content == expected
    assert "Le Mesnil-Théribus".encode() in response.content  # raw UTF-8, not \\u escapes
    record = _get(sample_server, "/v1/objects/45734").json()
    assert tuple(record) == RECORD_KEYS
    assert record["primaryImage"] == sample_server.url + "/CRDImages/as/original/DP251139.jpg"
    assert all(u.startswith(sample_server.url + "/CRDImages/") for u in record["additionalImages"])


@pytest.mark.parametrize(("raw_id", "status", "message"), [
    ("999999999", 404, "ObjectID not found"), ("0", 404, "ObjectID not found"), ("-1", 404, "ObjectID not found"),
    ("abc", 400, "could not parse objectID"), ("336228.5", 400, "could not parse objectID"),
])
def test_object_errors(sample_server, raw_id, status, message):
    response = _get(sample_server, f"/v1/objects/{raw_id}")
    assert response.status_code == status
    assert response.json() == {"message": message}


def test_withdrawn_object_is_listed_but_not_valid(sample_server, world):
    gone = next(o for o in world.objects.values() if not o.listed)
    object_id = gone.record["objectID"]
    assert object_id in _get(sample_server, "/v1/objects").json()["objectIDs"]
    response = _get(sample_server, f"/v1/objects/{object_id}")
    assert response.status_code == 404 and response.json() == {"message": "Not a valid object"}


def test_departments(sample_server):
    body = _get(sample_server, "/v1/departments").json()
    assert len(body["departments"]) == 19
    assert body["departments"][0] == {"departmentId": 1, "displayName": "American Decorative Arts"}


def test_search_v1_returns_all_matches_or_null(sample_server, world):
    body = _get(sample_server, "/v1/search", params={"q": "van gogh"}).json()
    van_gogh = {i for i, o in world.objects.items() if o.record["artistDisplayName"] == "Vincent van Gogh"}
    assert van_gogh <= set(body["objectIDs"]) and body["total"] == len(body["objectIDs"])
    assert _get(sample_server, "/v1/search", params={"q": "durer"}).json() == {"total": 1, "objectIDs": [336228]}
    assert _get(sample_server, "/v1/search", params={"q": "zzzz"}).json() == {"total": 0, "objectIDs": None}
    assert _get(sample_server, "/v1/search").json() == {"total": 0, "objectIDs": None}  # q is required


def test_search_filters_are_case_sensitive_and_combine(sample_server, world):
    everything = _get(sample_server, "/v1/search", params={"q": "a"}).json()["objectIDs"]
    highlights = _get(sample_server, "/v1/search", params={"isHighlight": "true", "q": "a"}).json()["objectIDs"]
    assert highlights and set(highlights) < set(everything)
    assert all(world.objects[i].record["isHighlight"] for i in highlights)
    ignored = _get(sample_server, "/v1/search", params={"isHighlight": "True", "q": "a"}).json()["objectIDs"]
    assert ignored == everything
    asian = _get(sample_server, "/v1/search", params={"departmentId": "6", "q": "a"}).json()["objectIDs"]
    assert asian and all(world.objects[i].department_id == 6 for i in asian)
    dated = _get(sample_server, "/v1/search", params={"dateBegin": "1800", "dateEnd": "1900", "q": "a"}).json()
    assert all(1800 <= world.objects[i].record["objectBeginDate"] <= 1900 for i in dated["objectIDs"])
    etchings = _get(sample_server, "/v1/search", params={"medium": "Etching|Woodcut", "q": "a"}).json()["objectIDs"]
    assert etchings and all(world.objects[i].record["medium"] in ("Etching", "Woodcut") for i in etchings)
    assert _get(sample_server, "/v1/search", params={"medium": "etching", "q": "a"}).json()["objectIDs"] is None
    titles = _get(sample_server, "/v1/search", params={"title": "true", "q": "cypresses"}).json()["objectIDs"]
    assert 437980 in titles and all("cypresses" in world.objects[i].record["title"].lower() for i in titles)


def test_search_v1_retired_mode_answers_410(sample_server):
    sample_server.faults.extra["met_search_retired"] = True
    response = _get(sample_server, "/v1/search", params={"q": "sunflowers"})
    assert response.status_code == 410
    assert response.json()["replacement"] == "/public/collection/v1.1/search"
    assert _get(sample_server, "/v1.1/search", params={"q": "sunflowers"}).status_code == 200


def test_search_v11_pages_with_offset_and_limit(sample_server, world):
    all_ids = _get(sample_server, "/v1.1/search", params={"limit": 500}).json()
    assert all_ids["total"] == len(world.objects) == len(all_ids["objectIDs"])
    assert all_ids["objectIDs"] == sorted(all_ids["objectIDs"], key=str)  # no q: ids in text order
    first = _get(sample_server, "/v1.1/search").json()
    assert len(first["objectIDs"]) == 100 and first["objectIDs"] == all_ids["objectIDs"][:100]
    for limit in ("0", "-1", "x"):
        assert _get(sample_server, "/v1.1/search", params={"limit": limit}).json() == first
    assert _get(sample_server, "/v1.1/search", params={"offset": "-1", "limit": 5}).json()["objectIDs"] == \
        all_ids["objectIDs"][:5]
    last = _get(sample_server, "/v1.1/search", params={"offset": 299, "limit": 5}).json()
    assert last == {"total": 300, "objectIDs": all_ids["objectIDs"][299:]}
    assert _get(sample_server, "/v1.1/search", params={"offset": 300}).json() == {"total": 300, "objectIDs": None}


def test_search_v11_caps_limit_and_ignores_unknown_filters(sample_server):
    assert len(_get(sample_server, "/v1.1/search", params={"limit": 501}).json()["objectIDs"]) == 300
    plain = _get(sample_server, "/v1.1/search", params={"q": "landscape"}).json()
    for ignored in ({"departmentId": "999"}, {"hasImages": "True"}, {"isPublicDomain": "true"}):
        assert _get(sample_server, "/v1.1/search", params={**ignored, "q": "landscape"}).json() == plain
    first = _get(sample_server, "/v1.1/search", params={"q": "harbour"})
    again = _get(sample_server, "/v1.1/search", params={"q": "harbour"})
    assert (first.headers["X-Search-Cache"], again.headers["X-Search-Cache"]) == ("MISS", "HIT")


def test_search_v11_window_ends_at_the_window_size(sample_server, monkeypatch):
    monkeypatch.setattr(met_api, "SEARCH_WINDOW", 50)
    assert len(_get(sample_server, "/v1.1/search", params={"offset": 49, "limit": 2}).json()["objectIDs"]) == 1
    past = _get(sample_server, "/v1.1/search", params={"offset": 50, "limit": 1}).json()
    assert past == {"total": 300, "objectIDs": None}


def test_head_is_not_allowed(sample_server):
    response = requests.head(sample_server.met_api_url + "/v1/objects/45734", timeout=10)
    assert response.status_code == 405 and response.headers["Allow"] == "OPTIONS, GET"


def test_image_host_headers_conditional_and_ranges(sample_server):
    url = _get(sample_server, "/v1/objects/45734").json()["primaryImageSmall"]
    response = requests.get(url, timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/jpeg"
    for header in ("ETag", "Last-Modified"):
        assert response.headers[header]
    assert response.headers["Cache-Control"] == "max-age=432000" and response.headers["Accept-Ranges"] == "bytes"
    size = len(response.content)
    Image.open(io.BytesIO(response.content)).load()
    assert requests.get(url, headers={"If-None-Match": response.headers["ETag"]}, timeout=10).status_code == 304
    part = requests.get(url, headers={"Range": "bytes=0-99"}, timeout=10)
    assert part.status_code == 206 and part.content == response.content[:100]
    assert part.headers["Content-Range"] == f"bytes 0-99/{size}"
    tail = requests.get(url, headers={"Range": "bytes=-10"}, timeout=10)
    assert tail.status_code == 206 and tail.content == response.content[-10:]
    beyond = requests.get(url, headers={"Range": f"bytes={size}-"}, timeout=10)
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{size}"


def test_missing_images_are_html_404_pages(sample_server, world):
    obj = _primary(world, "every image URL answers 404")
    url = _get(sample_server, f"/v1/objects/{obj.record['objectID']}").json()["primaryImage"]
    response = requests.get(url, timeout=10)
    assert response.status_code == 404 and response.headers["Content-Type"].startswith("text/html")


def test_edge_case_images_as_served(sample_server, world):
    def primary_or_last(note: str) -> requests.Response:
        record = _get(sample_server, f"/v1/objects/{_primary(world, note).record['objectID']}").json()
        return requests.get(record["additionalImages"][-1], timeout=10)

    png = primary_or_last("PNG served as image/jpeg")
    assert png.headers["Content-Type"] == "image/jpeg" and png.content.startswith(b"\x89PNG")
    page = primary_or_last("HTML page served with 200")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    spaced = _get(sample_server, f"/v1/objects/{_primary(world, 'file name with a space').record['objectID']}")
    url = spaced.json()["primaryImage"]
    assert " " in url
    assert requests.get(url, timeout=10).status_code == 200  # requests percent-encodes the space


def test_throttle_page_and_outage_faults(sample_server):
    sample_server.faults.next_statuses = [403, 503]
    throttled = _get(sample_server, "/v1/departments")
    assert throttled.status_code == 403 and throttled.headers["Content-Type"].startswith("text/html")
    assert b"Incapsula incident ID" in throttled.content
    assert _get(sample_server, "/v1/departments").status_code == 503
    assert _get(sample_server, "/v1/departments").status_code == 200
    sample_server.faults.throttle_after = 2
    statuses = [_get(sample_server, "/v1/departments").status_code for _ in range(4)]
    assert statuses[:2] == [200, 200] and statuses[2:] == [403, 403]


def test_malformed_json_fault(sample_server):
    sample_server.faults.extra["malformed_json"] = True
    with pytest.raises(ValueError):
        _get(sample_server, "/v1/objects/45734").json()


def test_image_faults_truncate_corrupt_and_wrong_type(sample_server):
    url = _get(sample_server, "/v1/objects/336228").json()["primaryImageSmall"]
    full = requests.get(url, timeout=10).content
    sample_server.faults.extra["truncate_images"] = True
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request("GET", parts.path)
    response = connection.getresponse()
    assert int(response.getheader("Content-Length")) == len(full)
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    connection.close()
    sample_server.faults.extra = {"corrupt_images": True}
    corrupt = requests.get(url, timeout=10)
    assert corrupt.status_code == 200 and len(corrupt.content) == len(full)
    with pytest.raises(OSError):
        Image.open(io.BytesIO(corrupt.content)).load()
    sample_server.faults.extra = {"wrong_content_type": True}
    wrong = requests.get(url, timeout=10)
    assert wrong.status_code == 200 and wrong.headers["Content-Type"].startswith("text/html")
    assert wrong.content.lstrip().startswith(b"<!DOCTYPE html>")


def test_every_request_is_logged_with_its_user_agent(sample_server):
    _get(sample_server, "/v1/objects/1", headers={"User-Agent": "metdata-test/1"})
    logged = sample_server.requests_to("/public/collection/v1/objects/1")
    assert [r.user_agent for r in logged] == ["metdata-test/1"]


def test_serve_sample_help_and_busy_port():
    from metdata.cli import cli, main

    result = CliRunner().invoke(cli, ["serve-sample", "--help"])
    assert result.exit_code == 0 and "--port" in result.output and "crawl met" in result.output
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SystemExit) as exit_info:
            main(["serve-sample", "--port", str(port)])
    assert exit_info.value.code == 2
