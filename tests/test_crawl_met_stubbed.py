"""Cases the sample museum does not serve, against a scripted session: the search window, licence rows
for non-public-domain records that still list images, and records that are not records."""

from __future__ import annotations

import pytest

from metdata.errors import UserError
from metdata.http import HttpError
from metdata.met_crawl import Selection, select_object_ids
from metdata.sources.met import SEARCH_WINDOW, MetClient
from metdata.stages.met_object import ImageParams, crawl_object

API = "http://met.test/public/collection"
DEPARTMENTS = {"departments": [{"departmentId": 11, "displayName": "European Paintings"},
                               {"departmentId": 5, "displayName": "Arts of Africa, Oceania, and the Americas"}]}


class ScriptedSession:
    """Answers get_json from a function of (url, params); any image download is a test failure."""

    def __init__(self, answer):
        self.answer = answer
        self.calls: list[tuple[str, dict]] = []

    def get_json(self, url, params=None):
        self.calls.append((url, dict(params or {})))
        result = self.answer(url, params or {})
        if isinstance(result, Exception):
            raise result
        return result

    def get_bytes(self, url):
        raise AssertionError(f"nothing should be downloaded, got {url}")


def test_v1_1_search_pages_stop_at_the_window():
    def answer(url, params):
        if url.endswith("/v1/departments"):
            return DEPARTMENTS
        if url.endswith("/v1/search"):
            return HttpError(410, url, "retired")
        offset, limit = params["offset"], params["limit"]
        assert offset + limit <= SEARCH_WINDOW, "asked past the 10,000-result window"
        return {"total": 25_000, "objectIDs": list(range(offset + 1, offset + limit + 1))}

    session = ScriptedSession(answer)
    ids, notes = select_object_ids(MetClient(session, API), Selection(search="flowers"))
    assert ids == list(range(1, SEARCH_WINDOW + 1))
    assert "matched 25000 objects" in notes[0] and "--departments" in notes[0]
    pages = [params for url, params in session.calls if url.endswith("/v1.1/search")]
    assert [p["offset"] for p in pages] == list(range(0, SEARCH_WINDOW, 500))
    assert all(list(p)[-1] == "q" for p in pages)  # q goes last: the API's results depend on the order


def test_v1_search_is_used_while_it_lives_and_null_means_none():
    def answer(url, params):
        if url.endswith("/v1/departments"):
            return DEPARTMENTS
        return {"total": 0, "objectIDs": None}

    session = ScriptedSession(answer)
    assert select_object_ids(MetClient(session, API), Selection(search="zzzz", departments=("11",))) == (
        [], ["the selection matched no objects"])
    assert [(url.rsplit("/", 2)[-2:], params) for url, params in session.calls[1:]] == [
        (["v1", "search"], {"departmentId": 11, "q": "zzzz"})]


def test_a_search_total_that_is_not_a_number_is_a_user_error():
    def answer(url, params):
        return DEPARTMENTS if url.endswith("/v1/departments") else {"total": "many", "objectIDs": [1]}

    with pytest.raises(UserError, match="/v1/search: malformed response \\(total is 'many'"):
        select_object_ids(MetClient(ScriptedSession(answer), API), Selection(search="flowers"))


def test_department_names_with_commas():
    session = ScriptedSession(lambda url, params: DEPARTMENTS)
    client = MetClient(session, API)
    assert client.resolve_departments(["Arts of Africa, Oceania, and the Americas", "11"]) == [5, 11]
    assert client.resolve_departments(["european paintings,5"]) == [5, 11]
    with pytest.raises(UserError, match="unknown department 'Oceania'"):
        client.resolve_departments(["11,Oceania"])


def record(object_id: int, **fields) -> dict:
    return {"objectID": object_id, "isPublicDomain": True, "primaryImage": "", "primaryImageSmall": "",
            "additionalImages": [], "title": "T", "tags": None, **fields}


def test_a_non_public_domain_record_with_images_gets_rows_but_no_downloads(tmp_path):
    images = {"primaryImage": "http://img.test/original/a.jpg", "primaryImageSmall": "http://img.test/web-large/a.jpg",
              "additionalImages": ["http://img.test/original/b.jpg"]}
    client = MetClient(ScriptedSession(lambda url, params: record(7, isPublicDomain=False, **images)), API)
    rows = crawl_object(7, client=client, root=tmp_path, params=ImageParams())
    assert rows["objects"][0]["status"] == "not_public_domain"
    assert [(r["image_index"], r["status"], r["rendition"]) for r in rows["exhibits"]] == [
        (0, "not_public_domain", "web-large"), (1, "not_public_domain", "original")]
    assert not (tmp_path / "images").exists()


@pytest.mark.parametrize(
    "answer, status, fragment",
    [
        (lambda url, params: record(8), "bad_response", "objectID is 8, expected 7"),
        (lambda url, params: ["not", "a", "record"], "bad_response", "expected a JSON object"),
        (lambda url, params: HttpError(200, url, f"expected JSON from {url}, got text/html"), "bad_response",
         "expected JSON"),
        (lambda url, params: HttpError(404, url, "HTTP 404"), "not_found", "answered 404"),
        (lambda url, params: HttpError(None, url, "network error"), "http_error", "network error"),
        (lambda url, params: record(7, additionalImages="x.jpg"), "bad_response", "additionalImages"),
    ],
)
def test_records_that_are_not_records(tmp_path, answer, status, fragment):
    rows = crawl_object(7, client=MetClient(ScriptedSession(answer), API), root=tmp_path, params=ImageParams())
    (row,) = rows["objects"]
    assert (row["object_id"], row["status"], row["n_images_kept"]) == (7, status, 0)
    assert fragment in row["error"]
    assert rows["exhibits"] == []
