"""The Wikimedia Commons stand-in speaks the API as source_apis.md C records it (formats, continuation,
errors, etiquette gates, upload host); checked with raw HTTP so the client cannot hide a mistake."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter

import pytest
from commons_big_world import BIG, build_big_world
from PIL import Image

from metdata import USER_AGENT
from metdata.sample.commons_api import CommonsService
from metdata.sample.server import SampleServer
from metdata.sample.world_commons import EMPTY, KODAK, PD_ART, VAN_GOGH

GENERATOR = {
    "action": "query", "format": "json", "formatversion": "2", "generator": "categorymembers",
    "gcmtitle": f"Category:{VAN_GOGH}", "gcmtype": "file", "gcmlimit": "50", "prop": "imageinfo",
    "iiprop": "url|size|mime|sha1|extmetadata|timestamp", "iiurlwidth": "400",
}


def get(server, params: dict, ua: str = USER_AGENT, path: str = "/w/api.php"):
    """(status, lower-cased headers, body) of a raw GET."""
    url = server.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
    request = urllib.request.Request(url, headers={"User-Agent": ua} if ua else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def api(server, **params):
    status, headers, body = get(server, {"action": "query", "format": "json", **params})
    assert status == 200
    return json.loads(body), headers


@pytest.fixture()
def big_server():
    server = SampleServer([CommonsService(build_big_world())]).start()
    try:
        yield server
    finally:
        server.stop()


def test_formatversion_2_generator_page_shape(sample_server):
    data, _ = api(sample_server, **GENERATOR)
    assert data["batchcomplete"] is True and "continue" not in data
    pages = data["query"]["pages"]
    assert isinstance(pages, list) and len(pages) == len(sample_server.world.commons_categories[VAN_GOGH].files)
    page = pages[0]
    assert list(page)[:4] == ["pageid", "ns", "title", "imagerepository"] and page["ns"] == 6
    info = page["imageinfo"][0]
    for key in ("size", "width", "height", "thumburl", "thumbwidth", "thumbheight", "url", "descriptionurl",
                "sha1", "mime", "timestamp", "extmetadata"):
        assert key in info, key
    assert info["thumbwidth"] == 400  # the requested width, although the file is the next standard step
    assert "/500px-" in info["thumburl"] and info["thumburl"].endswith("utm_content=thumbnail")
    assert info["url"].endswith("utm_content=original")
    licence = info["extmetadata"]["LicenseShortName"]
    assert set(licence) == {"value", "source", "hidden"} and licence["hidden"] == ""


def test_formatversion_1_pages_keyed_by_id_and_empty_string_booleans(sample_server):
    data, _ = api(sample_server, **{**GENERATOR, "formatversion": "1"})
    assert data["batchcomplete"] == ""
    pages = data["query"]["pages"]
    assert isinstance(pages, dict) and all(key == str(page["pageid"]) for key, page in pages.items())
    missing, _ = api(sample_server, titles="File:Nothing.jpg|Category:Nowhere at all")
    assert missing["query"]["pages"]["-1"] == {"ns": 6, "title": "File:Nothing.jpg", "missing": "",
                                               "imagerepository": ""}
    assert missing["query"]["pages"]["-2"]["missing"] == ""
    v2, _ = api(sample_server, titles="File:Nothing.jpg", formatversion="2")
    assert v2["query"]["pages"][0]["missing"] is True


def test_thumbnail_unscaled_when_the_original_is_narrower(sample_server):
    data, _ = api(sample_server, **{**GENERATOR, "iiurlwidth": "1280"})
    info = data["query"]["pages"][0]["imageinfo"][0]
    assert info["thumburl"].endswith("utm_content=thumbnail_unscaled") and "/thumb/" not in info["thumburl"]
    assert info["thumbwidth"] == 1280 and info["thumbheight"] > info["height"]


def test_siteinfo_userinfo_as_mwclient_reads_them(sample_server):
    data, _ = api(sample_server, meta="siteinfo|userinfo", siprop="general|namespaces", uiprop="groups|rights")
    assert data["query"]["general"]["generator"].startswith("MediaWiki 1.")
    assert data["query"]["namespaces"]["6"]["*"] == "File" and data["query"]["userinfo"]["anon"] == ""


def test_list_categorymembers_pages_with_whole_continue_echo(sample_server):
    world = sample_server.world
    expected = len(world.commons_categories[KODAK].files) + len(world.commons_categories[KODAK].subcategories)
    first, _ = api(sample_server, list="categorymembers", cmtitle=f"Category:{KODAK}")
    assert len(first["query"]["categorymembers"]) == 10  # the default cmlimit
    assert first["continue"]["continue"] == "-||" and first["continue"]["cmcontinue"].startswith("file|")
    seen, cont = [], {}
    for _ in range(20):
        data, _ = api(sample_server, list="categorymembers", cmtitle=f"Category:{KODAK}", cmlimit="7", **cont)
        seen += [m["pageid"] for m in data["query"]["categorymembers"]]
        if "continue" not in data:
            break
        cont = data["continue"]
    assert len(seen) == len(set(seen)) == expected
    maxed, _ = api(sample_server, list="categorymembers", cmtitle=f"Category:{KODAK}", cmlimit="max")
    assert maxed["limits"] == {"categorymembers": 500} and "continue" not in maxed


def test_a_token_without_its_continue_value_is_badcontinue(sample_server):
    first, _ = api(sample_server, list="categorymembers", cmtitle=f"Category:{KODAK}")
    token = first["continue"]["cmcontinue"]
    data, headers = api(sample_server, list="categorymembers", cmtitle=f"Category:{KODAK}", cmcontinue=token)
    assert data["error"]["code"] == "badcontinue" and headers["mediawiki-api-error"] == "badcontinue"
    assert data["error"]["info"].startswith("Invalid continue param. You should pass the original value")


def test_iicontinue_repeats_the_batch_until_every_thumbnail_is_served(big_server):
    params = {**GENERATOR, "gcmtitle": f"Category:{BIG}", "gcmlimit": "max"}
    first, _ = api(big_server, **params)
    assert "batchcomplete" not in first and set(first["continue"]) == {"iicontinue", "continue"}
    with_info = [p["pageid"] for p in first["query"]["pages"] if "imageinfo" in p]
    assert len(with_info) == 50 and len(first["query"]["pages"]) == 120
    second, _ = api(big_server, **params, **first["continue"])
    repeated = second["query"]["pages"]
    assert {p["pageid"] for p in repeated} == {p["pageid"] for p in first["query"]["pages"]}
    assert not {p["pageid"] for p in repeated if "imageinfo" in p} & set(with_info)
    third, _ = api(big_server, **params, **second["continue"])
    assert third["batchcomplete"] is True and "continue" not in third
    served = with_info + [p["pageid"] for r in (second, third) for p in r["query"]["pages"] if "imageinfo" in p]
    assert sorted(served) == sorted(p["pageid"] for p in first["query"]["pages"])


def test_miser_mode_pages_are_short_or_empty_but_continue(big_server):
    big_server.faults.extra["commons_miser"] = True
    params = {**GENERATOR, "gcmtitle": f"Category:{BIG}", "gcmlimit": "20"}
    data, _ = api(big_server, **params)
    assert "query" not in data and "continue" in data  # an empty page that still continues
    big_server.faults.extra["commons_miser"] = False
    unfiltered, _ = api(big_server, **{**params, "gcmlimit": "4"})  # the window holds only subcategories
    assert "query" not in unfiltered and unfiltered["continue"]["continue"] == "gcmcontinue||"


def test_maxlag_error_with_retry_after(sample_server):
    sample_server.faults.extra.update(commons_lagged_requests=1, commons_retry_after_s=1)
    lagged, headers = api(sample_server, titles="File:Nothing.jpg", maxlag="5")
    assert lagged["error"]["code"] == "maxlag" and lagged["error"]["lag"] == 7
    assert headers["retry-after"] == "1" and headers["mediawiki-api-error"] == "maxlag"
    assert "x-database-lag" in headers
    again, _ = api(sample_server, titles="File:Nothing.jpg", maxlag="5")
    assert "error" not in again


def test_429_over_the_rate_and_over_the_concurrency(sample_server):
    sample_server.faults.extra.update(commons_rate_per_window=2, commons_rate_window_s=30)
    statuses = [get(sample_server, {"action": "query", "format": "json", "meta": "siteinfo"})[:2] for _ in range(3)]
    assert [s for s, _ in statuses] == [200, 200, 429] and int(statuses[2][1]["retry-after"]) >= 1
    sample_server.reset()
    sample_server.faults.extra.update(commons_max_concurrent=1, commons_api_delay_s=0.5)
    results = []
    threads = [threading.Thread(target=lambda: results.append(get(sample_server, {"meta": "siteinfo",
                                                                                 "action": "query"})[0]))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 429]


@pytest.mark.parametrize("ua", ["", "python-requests/2.32.3", "curl/8.5.0", "MyCrawler/1.0"])
def test_generic_user_agents_get_403_on_api_and_upload_host(sample_server, ua):
    status, headers, body = get(sample_server, {"action": "query", "meta": "siteinfo"}, ua=ua)
    assert status == 403 and headers["content-type"].startswith("text/plain")
    assert body.startswith(b"Please set a user-agent and respect our robot policy https://w.wiki/4wJS.")
    file = next(iter(sample_server.world.commons_files.values()))
    assert get(sample_server, {}, ua=ua, path=file.image_path)[0] == 403


def test_api_errors(sample_server):
    for params, code in [
        ({"action": "queryy"}, "unknown_action"),
        ({"format": "xml"}, "badvalue"),
        ({"list": "categorymembers", "cmtitle": "Paintings"}, "invalidcategory"),
        ({"titles": "|".join(f"File:{i}.jpg" for i in range(51))}, "toomanyvalues"),
    ]:
        data, headers = api(sample_server, **params)
        assert data["error"]["code"] == code and headers["mediawiki-api-error"] == code
        assert "*" in data["error"]  # the formatversion 1 docref
    empty, _ = api(sample_server, list="categorymembers", cmtitle=f"Category:{EMPTY}")
    assert empty["query"]["categorymembers"] == []
    unknown, _ = api(sample_server, list="categorymembers", cmtitle="Category:No such category here")
    assert unknown["query"]["categorymembers"] == []  # as on the real API


def test_upload_host_originals_and_standard_thumbnails(sample_server):
    data, _ = api(sample_server, **{**GENERATOR, "gcmtitle": f"Category:{PD_ART}"})
    info = data["query"]["pages"][0]["imageinfo"][0]
    path = urllib.parse.urlsplit(info["url"]).path
    status, headers, original = get(sample_server, {"utm_source": "x"}, path=path)
    assert status == 200 and headers["content-type"] == "image/jpeg"
    assert hashlib.sha1(original).hexdigest() == info["sha1"] and len(original) == info["size"]
    thumb = urllib.parse.urlsplit(info["thumburl"]).path
    status, _, body = get(sample_server, {}, path=thumb)
    assert status == 200 and Image.open(io.BytesIO(body)).width == 500
    odd = thumb.replace("/500px-", "/480px-")
    status, _, body = get(sample_server, {}, path=odd)
    assert status == 429 and body.startswith(b"Use thumbnail steps listed on https://w.wiki/GHai")
    sample_server.faults.extra["commons_thumb_400"] = True
    assert get(sample_server, {}, path=odd)[0] == 400
    assert get(sample_server, {}, path=path.replace("/wikipedia/commons/", "/wikipedia/commons/thumb/"))[0] == 404


def test_post_form_answers_like_get(sample_server):
    body = urllib.parse.urlencode({**GENERATOR, "formatversion": "1"}).encode()
    request = urllib.request.Request(sample_server.url + "/w/api.php", data=body, method="POST",
                                     headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=10) as response:
        posted = json.loads(response.read())
    assert posted == api(sample_server, **{**GENERATOR, "formatversion": "1"})[0]


def test_sample_commons_covers_every_licence_case_copies_and_a_cycle(world):
    licences = Counter(
        (f.extmetadata.get("License", {}).get("value"), f.extmetadata["Copyrighted"]["value"],
         "NonFree" in f.extmetadata, f.is_free)
        for f in world.commons_files.values()
    )
    for case in [("pd", "False", False, True), ("cc0", "True", False, True), ("cc-by-sa-4.0", "True", False, False),
                 (None, "True", False, False), (None, "True", True, False), ("pd", "True", False, False)]:
        assert licences[case], case
    copies = [f for f in world.commons_files.values() if f.met_object_id]
    assert len(copies) >= 3 and all(f.met_object_id in world.objects for f in copies)
    assert VAN_GOGH in world.commons_categories[world.commons_categories[VAN_GOGH].subcategories[0]].subcategories
    assert any("Artist" not in f.extmetadata for f in world.commons_files.values())


def test_non_ascii_is_escaped_in_formatversion_1_and_raw_in_2_unless_asked_otherwise(sample_server):
    params = {"action": "query", "format": "json", "titles": "File:Nothing\u00e9.jpg"}
    for extra, escaped in (({}, True), ({"utf8": "1"}, False), ({"formatversion": "2"}, False),
                           ({"formatversion": "2", "ascii": ""}, True)):
        status, _, body = get(sample_server, {**params, **extra})
        assert status == 200 and body.isascii() == escaped, extra
        assert (b"\\u00e9" in body) == escaped and ("Nothing\u00e9".encode() in body) != escaped
        assert json.loads(body)["query"]
