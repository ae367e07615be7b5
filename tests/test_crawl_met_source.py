"""The Met record parser and id parsing: pure functions, no server."""

from __future__ import annotations

import pytest

from metdata.errors import UserError
from metdata.sources.met import (
    ImageCandidate,
    RecordError,
    check_record,
    image_candidates,
    object_row,
    parse_object_ids,
)

DOC_SAMPLE = {  # GET /objects/45734, the official documentation sample (trimmed to the fields we read)
    "objectID": 45734,
    "accessionNumber": "36.100.45",
    "isPublicDomain": True,
    "primaryImage": "https://images.metmuseum.org/CRDImages/as/original/DP251139.jpg",
    "primaryImageSmall": "https://images.metmuseum.org/CRDImages/as/web-large/DP251139.jpg",
    "additionalImages": [
        "https://images.metmuseum.org/CRDImages/as/original/DP251138.jpg",
        "https://images.metmuseum.org/CRDImages/as/original/DP251120.jpg",
    ],
    "constituents": None,
    "department": "Asian Art",
    "objectName": "Hanging scroll",
    "title": "Quail and Millet",
    "culture": "Japan",
    "artistDisplayName": "Kiyohara Yukinobu",
    "objectDate": "late 17th century",
    "medium": "Hanging scroll; ink and color on silk",
    "creditLine": "The Howard Mansfield Collection, Purchase, Rogers Fund, 1936",
    "classification": "",
    "metadataDate": "2020-09-14T12:26:37.48Z",
    "objectURL": "https://www.metmuseum.org/art/collection/search/45734",
    "tags": [{"term": "Birds", "AAT_URL": None, "Wikidata_URL": "https://www.wikidata.org/wiki/Q5113"}],
}


def test_primary_prefers_web_large_with_the_original_as_fallback():
    primary, *additional = image_candidates(DOC_SAMPLE)
    assert primary == ImageCandidate(0, DOC_SAMPLE["primaryImageSmall"], "web-large", DOC_SAMPLE["primaryImage"])
    assert [(c.index, c.url, c.rendition, c.fallback_url) for c in additional] == [
        (1, DOC_SAMPLE["additionalImages"][0], "original", None),
        (2, DOC_SAMPLE["additionalImages"][1], "original", None),
    ]


def test_primary_without_web_large_is_the_original():
    record = {**DOC_SAMPLE, "primaryImageSmall": "", "additionalImages": []}
    assert image_candidates(record) == [ImageCandidate(0, DOC_SAMPLE["primaryImage"], "original")]


def test_no_primary_but_additional_images():
    record = {**DOC_SAMPLE, "primaryImage": "", "primaryImageSmall": ""}
    assert [(c.index, c.rendition) for c in image_candidates(record)] == [(1, "original"), (2, "original")]


def test_file_names_with_spaces_are_percent_encoded_once():
    record = {**DOC_SAMPLE, "primaryImageSmall": "", "additionalImages": [],
              "primaryImage": "https://images.metmuseum.org/CRDImages/ad/original/Kalimian Temple%231.jpg"}
    (candidate,) = image_candidates(record)
    assert candidate.url == "https://images.metmuseum.org/CRDImages/ad/original/Kalimian%20Temple%231.jpg"


def test_malformed_image_fields_are_record_errors():
    with pytest.raises(RecordError):
        image_candidates({**DOC_SAMPLE, "additionalImages": "not a list"})
    with pytest.raises(RecordError):
        image_candidates({**DOC_SAMPLE, "primaryImage": 42})


def test_object_row_maps_fields_and_stores_empty_as_null():
    row = object_row({**DOC_SAMPLE, "artistDisplayName": "Tom &amp; Jerry"})
    assert row["object_id"] == 45734
    assert row["title"] == "Quail and Millet"
    assert row["artist"] == "Tom & Jerry"
    assert row["date"] == "late 17th century"
    assert row["classification"] is None
    assert row["tags"] == ["Birds"]
    assert row["is_public_domain"] is True
    assert object_row({**DOC_SAMPLE, "tags": None})["tags"] == []


def test_check_record_rejects_other_shapes():
    assert check_record(DOC_SAMPLE, 45734) is DOC_SAMPLE
    for bad, id_ in [([], 45734), (DOC_SAMPLE, 1), ({**DOC_SAMPLE, "isPublicDomain": "yes"}, 45734)]:
        with pytest.raises(RecordError):
            check_record(bad, id_)


def test_parse_object_ids():
    assert parse_object_ids("3, 1,2\n3 10", "x") == [3, 1, 2, 10]
    for bad in ["../etc/passwd", "1,two", "-5", "0", "1.5", "/tmp/ids"]:
        with pytest.raises(UserError, match="not a Met object id"):
            parse_object_ids(bad, "--object-ids")
