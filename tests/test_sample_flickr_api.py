"""The sample museum's Flickr stand-in against the shapes of source_apis.md B and D.2, seen by flickrapi."""

from __future__ import annotations

import hashlib
import io
import json
import xml.etree.ElementTree as ET
from collections import Counter

import flickrapi
import numpy as np
import pytest
import requests
from PIL import Image

from metdata.sample.flickr_api import LICENSES_XML
from metdata.sample.world_flickr import original_is_public, photo_sizes
from metdata.stages.flickr_photo import PLACEHOLDER_SHA256


def _api(server, fmt="parsed-json", key="testkey"):
    api = flickrapi.FlickrAPI(key, "testsecret", format=fmt, store_token=False, cache=False)
    api.REST_URL = server.flickr_rest_url
    return api


def _busiest(world):
    return Counter(p.owner for p in world.photos).most_common(1)[0][0]


def _get(server, **params):
    return requests.get(server.flickr_rest_url, params={"api_key": "testkey", **params}, timeout=10)


def test_world_has_what_the_issue_asks_for(world):
    assert len(world.photographers) >= 30
    assert any(not p.realname.isascii() for p in world.photographers)
    assert {p.license for p in world.photos} == {str(i) for i in range(17)}
    met = [p for p in world.photos if p.object_id is not None]
    assert len(met) > len(world.photos) / 2 and len(met) < len(world.photos)
    assert all(p.object_id in world.objects for p in met)
    assert not any(p.names_artwork for p in world.photos if p.object_id is None)
    assert any(not p.names_artwork for p in met) and any(p.names_artwork for p in met)
    assert any(p.original_format == "png" for p in world.photos)
    assert any(not original_is_public(p) for p in world.photos)
    assert any("l" not in {s.extra for s in photo_sizes(p)} for p in world.photos)
    assert {o.object_id is None for o in world.own_photos} == {True, False}


def test_search_json_shape_through_flickrapi(sample_server, world):
    owner = _busiest(world)
    resp = _api(sample_server).photos.search(
        user_id=owner, extras="description,license,date_upload,date_taken,owner_name,tags,o_dims,url_m,url_l,url_o",
        per_page=500)
    assert list(resp) == ["photos", "stat"] and resp["stat"] == "ok"
    photos = resp["photos"]
    assert list(photos) == ["page", "pages", "perpage", "total", "photo"]
    assert photos["total"] == str(len(photos["photo"])) and photos["perpage"] == 500
    expected = {p.photo_id for p in world.photos if p.owner == owner}
    assert {p["id"] for p in photos["photo"]} == expected
    for p in photos["photo"]:
        assert isinstance(p["license"], str) and isinstance(p["dateupload"], str)
        assert isinstance(p["description"]["_content"], str)
        assert p["url_m"].startswith(sample_server.flickr_static_url + "/")
    # the request went out as flickrapi sends it: a form POST, key only in the OAuth header
    request = sample_server.requests_to("/services/rest/")[-1]
    assert request.method == "POST" and "api_key" not in request.query
    assert 'oauth_consumer_key="testkey"' in request.headers["authorization"]


def test_mixed_scalar_types_and_missing_sizes(sample_server, world):
    photos = _get(sample_server, method="flickr.photos.search", text="met", format="json", nojsoncallback=1,
                  extras="date_taken,url_l,url_o,o_dims,original_format", per_page=500).json()["photos"]["photo"]
    assert {type(p["datetakengranularity"]) for p in photos} == {str, int}
    assert {type(p["width_l"]) for p in photos if "width_l" in p} == {str, int}
    assert any("url_o" not in p for p in photos) and any("url_o" in p for p in photos)
    assert any("url_l" not in p for p in photos) and any("url_l" in p for p in photos)
    assert all("o_width" not in p or isinstance(p["o_width"], str) for p in photos)
    originals = [p for p in photos if "url_o" in p]
    assert all(p["url_o"].endswith(f"/{p['id']}_{p['originalsecret']}_o.{p['originalformat']}") for p in originals)
    assert {p["originalformat"] for p in originals} == {"jpg", "png"}
    modern = _api(sample_server).people.getPublicPhotos(user_id=_busiest(world))
    assert isinstance(modern["photos"]["total"], int)


def test_jsonp_callbacks_and_escaped_slashes(sample_server):
    wrapped = _get(sample_server, method="flickr.photos.licenses.getInfo", format="json")
    assert wrapped.text.startswith("jsonFlickrApi({") and wrapped.text.endswith("})")
    assert "https:\\/\\/creativecommons.org" in wrapped.text
    named = _get(sample_server, method="flickr.test.echo", format="json", jsoncallback="cb", foo="bar")
    assert named.text.startswith("cb(")
    assert json.loads(named.text[3:-1])["foo"] == {"_content": "bar"}


def test_rest_xml_has_photos_first_for_walk(sample_server, world):
    rsp = _api(sample_server, fmt="etree").photos.search(user_id=_busiest(world), per_page=2, extras="url_m")
    assert rsp.tag == "rsp" and rsp.get("stat") == "ok"
    assert rsp[0].tag == "photos" and int(rsp[0].get("pages")) >= 1
    assert all(photo.get("url_m") for photo in rsp[0].findall("photo"))
    info = ET.fromstring(_get(sample_server, method="flickr.photos.getInfo",
                              photo_id=world.photos[0].photo_id).content)
    assert info[0].tag == "photo" and info[0].find("title").text == world.photos[0].title


def test_licences_verbatim(sample_server):
    xml = _get(sample_server, method="flickr.photos.licenses.getInfo")
    assert xml.text == LICENSES_XML
    ids = [el.get("id") for el in ET.fromstring(xml.content).iter("license")]
    assert ids == ["0", "4", "6", "3", "2", "1", "5", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16"]
    assert '<license id="0" name="All Rights Reserved" url="https://www.flickrhelp.com/hc/en-us/articles/' in xml.text
    parsed = _api(sample_server).photos.licenses.getInfo()["licenses"]["license"]
    assert [lic["id"] for lic in parsed] == [int(i) for i in ids]


@pytest.mark.parametrize("key, params, code", [
    ("bad key!", {"method": "flickr.photos.search", "text": "x"}, 100),
    ("testkey", {"method": "flickr.fakeMethod"}, 112),
    ("testkey", {"method": "flickr.photos.search", "extras": "url_m"}, 3),
    ("testkey", {"method": "flickr.photos.getInfo", "photo_id": "1"}, 1),
    ("testkey", {"method": "flickr.photos.search", "user_id": "1@N01"}, 2),
])
def test_errors_are_http_200_stat_fail(sample_server, key, params, code):
    reply = requests.post(sample_server.flickr_rest_url, timeout=10,
                          data={"api_key": key, "format": "json", "nojsoncallback": "1", **params})
    assert reply.status_code == 200
    body = reply.json()
    assert body["stat"] == "fail" and body["code"] == code
    xml = requests.get(sample_server.flickr_rest_url, params={"api_key": key, **params}, timeout=10)
    err = ET.fromstring(xml.content).find("err")
    assert err.get("code") == str(code) and err.get("msg") == body["message"]


def test_outage_and_expired_key_modes(sample_server):
    api = _api(sample_server)
    sample_server.faults.extra["flickr_outage"] = 1
    with pytest.raises(flickrapi.FlickrError) as outage:
        api.test.echo()
    assert outage.value.code == 201
    assert api.test.echo()["stat"] == "ok"
    sample_server.faults.extra["flickr_call_budget"] = 2
    api.test.echo()
    with pytest.raises(flickrapi.FlickrError, match="Key has expired") as expired:
        api.test.echo()
    assert expired.value.code == 100
    sample_server.faults.fault_prefix, sample_server.faults.next_statuses = "/services/rest/", [503]
    with pytest.raises(flickrapi.FlickrError, match="Status code 503") as http:
        _api(sample_server, key="otherkey").test.echo()
    assert http.value.code is None


def test_paging_window_and_upload_dates(sample_server, world):
    def page(**params):
        return _get(sample_server, method="flickr.photos.search", text="met", format="json", nojsoncallback=1,
                    **params).json()["photos"]

    assert page(per_page=900)["perpage"] == 500
    assert page(per_page=900, bbox="-180,-90,180,90")["perpage"] == 250
    first = page(per_page=7)
    last = page(per_page=7, page=first["pages"])
    beyond = page(per_page=7, page=first["pages"] + 5)
    assert beyond["page"] == first["pages"] and beyond["photo"] == last["photo"]
    sample_server.faults.extra["flickr_result_window"] = 14
    assert page(per_page=7)["total"] == first["total"]  # the true total is still reported
    assert [p["id"] for p in page(per_page=7, page=3)["photo"]] == [p["id"] for p in first["photo"]]
    uploads = sorted(p.date_upload for p in world.photos)
    lo, hi = uploads[10], uploads[20]
    window = _get(sample_server, method="flickr.photos.search", min_upload_date=lo, max_upload_date=hi,
                  extras="date_upload", format="json", nojsoncallback=1).json()["photos"]
    assert int(window["total"]) == sum(lo <= u <= hi for u in uploads)
    assert all(lo <= int(p["dateupload"]) <= hi for p in window["photo"])


def test_get_sizes_and_info(sample_server, world):
    photo = next(p for p in world.photos if original_is_public(p))
    sizes = _api(sample_server).photos.getSizes(photo_id=photo.photo_id)["sizes"]
    assert sizes["candownload"] == 1
    widths = [s["width"] for s in sizes["size"]]
    assert isinstance(widths[0], int) and isinstance(widths[-1], str)  # mixed, as in the real capture
    assert sizes["size"][-1]["label"] == "Original" and int(widths[-1]) == photo.width
    info = _api(sample_server).photos.getInfo(photo_id=photo.photo_id)["photo"]
    assert info["license"] == photo.license and info["dates"]["taken"] == photo.date_taken
    assert info["urls"]["url"][0]["type"] == "photopage"


def test_static_host_sizes_404_and_placeholder(sample_server, world):
    photo = next(p for p in world.photos if original_is_public(p))
    medium = next(s for s in photo_sizes(photo) if s.extra == "m")
    reply = requests.get(sample_server.url + medium.path, timeout=30)
    assert reply.status_code == 200 and reply.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(reply.content)).size == (medium.width, medium.height)
    assert requests.get(sample_server.url + medium.path.replace(photo.secret, "0" * 10), timeout=10).status_code == 404
    sample_server.faults.extra["flickr_deleted"] = {photo.photo_id: "redirect"}
    moved = requests.get(sample_server.url + medium.path, timeout=10)
    assert moved.history and moved.url.endswith("photo_unavailable.png")
    assert hashlib.sha256(moved.content).hexdigest() in PLACEHOLDER_SHA256
    sample_server.faults.extra["flickr_deleted"] = {photo.photo_id: "404"}
    assert requests.get(sample_server.url + medium.path, timeout=10).status_code == 404


def test_photos_render_deterministically_and_every_size_shows_the_same_scene(world):
    photo = next(p for p in world.photos if original_is_public(p) and p.object_id is not None)
    sizes = {s.extra: s for s in photo_sizes(photo)}
    medium = world.renderers[sizes["m"].path]
    assert medium() == medium()
    other = next(p for p in world.photos if p.object_id not in (None, photo.object_id) and original_is_public(p))

    def grey(data: bytes) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(data)).convert("L").resize((32, 24)), dtype=float)

    same = np.abs(grey(medium()) - grey(world.renderers[photo.image_path]())).mean()
    different = np.abs(grey(medium()) - grey(world.renderers[other.image_path]())).mean()
    assert same < 8 < different  # mean grey-level difference: one photo at two sizes, not two scenes


def test_json_bytes_are_compact_with_php_escapes(sample_server, world):
    """What a client reads off the wire matches the real captures of source_apis.md B.6, byte for byte."""
    fake_method = _get(sample_server, method="flickr.fakeMethod", format="json", nojsoncallback=1)
    assert fake_method.content == b'{"stat":"fail","code":112,"message":"Method \\"flickr.fakeMethod\\" not found"}'
    owner = next(p for p in world.photographers if not p.realname.isascii())
    photo = next(p for p in world.photos if p.owner == owner.nsid)
    info = _get(sample_server, method="flickr.photos.getInfo", photo_id=photo.photo_id, format="json",
                nojsoncallback=1)
    assert info.content.isascii() and b"https:\\/\\/www.flickr.com\\/photos\\/" in info.content
    assert info.content.startswith(b'{"photo":{"visibility":{"ispublic":1,"isfriend":0,"isfamily":0},')
    assert info.content.endswith(b'},"stat":"ok"}')
    assert info.json()["photo"]["owner"]["realname"] == owner.realname
