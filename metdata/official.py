"""The official MET release format, both ways: the one place that knows its JSON (met_protocol.md §1-2).

Layout::

    DIR/ground_truth/MET_database.json       [{"id": <int>, "path": "MET/<id>/<n>.jpg"}, ...]
    DIR/ground_truth/mini_MET_database.json  a subset of the above (see `mini_database`)
    DIR/ground_truth/{val,test}set.json      [{"path": ..., "MET_id": <int>, ...}, ...] Met queries,
                                             [{"path": ..., "category": ..., "url": ...}] distractors
    DIR/images/MET/  test_met/  test_other/  test_noart/

Distractors are marked by the ABSENCE of ``MET_id``; class ids are JSON integers (a string would never
match a prediction in the official evaluation, so reading one is an error). Entry order is meaningful
(descriptors and predictions are aligned with it) and is kept both ways, so ``import(export(x)) == x``
on the split tables.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from metdata import manifests
from metdata.errors import UserError

GROUND_TRUTH = {
    "train": "MET_database.json",
    "mini": "mini_MET_database.json",
    "val": "valset.json",
    "test": "testset.json",
}
# Query folders of the release and the `kind` our queryset tables give them.
KIND_OF_FOLDER = {"test_met": "met", "test_other": "other", "test_noart": "noart"}
EXTRA_KEYS = ("photographer", "category", "url")  # attribution, read by no official code

# mini_MET_database: every class with a Met query (so the mini benchmark is scorable) plus the classes
# whose sha1(str(object_id)) falls in the first MINI_SHARE of the hash space (the release's mini set has
# 33,501 of 224,408 classes, about 15%). Deterministic and independent of row order.
MINI_SHARE = 0.15


# ---- reading -----------------------------------------------------------------------------------


def _load_array(path: Path) -> list:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, list):
        raise UserError(f"{path}: expected a top-level JSON array of entries, got {type(data).__name__}")
    return data


def _class_id(entry, field: str, path: Path, index: int, required: bool) -> int | None:
    """A JSON integer class id; strings, floats and booleans are rejected (they never match)."""
    if not isinstance(entry, dict):
        raise UserError(f"{path}: entry {index} is not a JSON object")
    if field not in entry:
        if required:
            raise UserError(f"{path}: entry {index} has no {field!r}")
        return None
    value = entry[field]
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(
            f"{path}: entry {index}: {field!r} is {json.dumps(value)} ({type(value).__name__}); "
            "class ids must be JSON integers"
        )
    if not -(2**63) <= value < 2**63:
        raise UserError(f"{path}: entry {index}: {field!r} is {value}, beyond a 64-bit class id")
    return value


def _path_of(entry: dict, path: Path, index: int) -> str:
    value = entry.get("path")
    if (not isinstance(value, str) or not value or value.startswith(("/", "images/"))
            or ".." in value.split("/")):  # import places images at images/<path>: never outside it
        raise UserError(f"{path}: entry {index}: 'path' must be a path relative to images/, got {value!r}")
    return value


def read_database(path: str | os.PathLike) -> pa.Table:
    """MET_database.json (or the mini one) as our `train` split table."""
    path = Path(path)
    keys, ids = [], []
    for i, entry in enumerate(_load_array(path)):
        ids.append(_class_id(entry, "id", path, i, required=True))
        keys.append(_path_of(entry, path, i))
    return manifests.to_table([{"key": k, "object_id": c} for k, c in zip(keys, ids)], "train")


def read_queryset_table(path: str | os.PathLike) -> pa.Table:
    """valset.json / testset.json as our `queryset` split table (met_id null for distractors)."""
    path = Path(path)
    rows, seen = [], set()
    for i, entry in enumerate(_load_array(path)):
        met_id = _class_id(entry, "MET_id", path, i, required=False)
        key = _path_of(entry, path, i)
        if key in seen:
            raise UserError(f"{path}: entry {i}: duplicate path {key!r}")
        seen.add(key)
        folder = key.split("/", 1)[0]
        if met_id is not None:
            kind = "met"
        elif KIND_OF_FOLDER.get(folder, "met") != "met":
            kind = KIND_OF_FOLDER[folder]
        else:
            raise UserError(f"{path}: entry {i}: distractor {key!r} is not under test_other/ or test_noart/")
        extras = {k: entry.get(k) for k in EXTRA_KEYS}
        for k, v in extras.items():
            if v is not None and not isinstance(v, str):
                raise UserError(f"{path}: entry {i}: {k!r} must be a string, got {json.dumps(v)}")
        rows.append({"key": key, "met_id": met_id, "kind": kind, **extras})
    return manifests.to_table(rows, "queryset")


# ---- writing -----------------------------------------------------------------------------------


def database_entries(train: pa.Table) -> list[dict]:
    return [{"id": int(c), "path": k} for k, c in zip(train["key"].to_pylist(), train["object_id"].to_pylist())]


def queryset_entries(queryset: pa.Table) -> list[dict]:
    """JSON entries in table order: MET_id only on Met queries, extra keys only when set."""
    entries = []
    for row in queryset.to_pylist():
        entry = {"path": row["key"]}
        if row["met_id"] is not None:
            entry["MET_id"] = int(row["met_id"])
        entry.update({k: row[k] for k in EXTRA_KEYS if row[k] is not None})
        entries.append(entry)
    return entries


def _in_mini_share(object_id: int) -> bool:
    digest = hashlib.sha1(str(object_id).encode()).digest()
    return int.from_bytes(digest[:8], "big") < MINI_SHARE * 2**64


def mini_database(train: pa.Table, query_classes: set[int]) -> pa.Table:
    """The mini exhibit database: all images of the query classes and of a fixed ~15% of the others."""
    ids = train["object_id"].to_pylist()
    keep = [c in query_classes or _in_mini_share(c) for c in ids]
    return train.filter(pa.array(keep, pa.bool_()))


def _write_json(path: Path, entries: list[dict]) -> None:
    manifests.write_bytes_atomic(path, json.dumps(entries, ensure_ascii=False).encode("utf-8"))


def _place(src: Path, dst: Path, copy: bool) -> None:
    """Hard-link (or copy) one image; an existing destination of the same size is kept (resumable)."""
    if dst.exists() and dst.stat().st_size == src.stat().st_size:
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.unlink(missing_ok=True)
    if not copy:
        try:
            os.link(src, dst)
            return
        except OSError:
            pass  # another file system or no link permission: copy instead
    shutil.copy2(src, dst)


def _place_images(keys: list[str], src_images: Path, dst_images: Path, copy: bool) -> list[str]:
    """Put every key's image under dst_images; return the keys whose source file is missing."""
    missing = []
    for key in keys:
        src = src_images / key
        if not src.is_file():
            missing.append(key)
            continue
        _place(src, dst_images / key, copy)
    return missing


@dataclass(frozen=True)
class Transfer:
    """What an export or import wrote."""

    counts: dict[str, int]  # entries per ground-truth file / split
    missing_images: list[str]  # keys whose image file was not found (not written)


def export(root: str | os.PathLike, dest: str | os.PathLike, copy: bool = False) -> Transfer:
    """Write ROOT's splits as the official release under DEST (ground_truth/ and images/)."""
    root, dest = Path(root), Path(dest)
    train = manifests.read(manifests.split_path(root, "train"), "train")
    val = manifests.read(manifests.split_path(root, "val"), "queryset")
    test = manifests.read(manifests.split_path(root, "test"), "queryset")
    query_classes = {c for t in (val, test) for c in t["met_id"].to_pylist() if c is not None}
    mini = mini_database(train, query_classes)
    gt = dest / "ground_truth"
    _write_json(gt / GROUND_TRUTH["train"], database_entries(train))
    _write_json(gt / GROUND_TRUTH["mini"], database_entries(mini))
    _write_json(gt / GROUND_TRUTH["val"], queryset_entries(val))
    _write_json(gt / GROUND_TRUTH["test"], queryset_entries(test))
    keys = train["key"].to_pylist() + val["key"].to_pylist() + test["key"].to_pylist()
    missing = _place_images(keys, root / "images", dest / "images", copy)
    counts = {"train": train.num_rows, "mini": mini.num_rows, "val": val.num_rows, "test": test.num_rows}
    return Transfer(counts, missing)


def _stem(key: str) -> str:
    return Path(key).stem


def _manifest_rows(train: pa.Table, querysets: list[pa.Table]) -> dict[str, list[dict]]:
    """Manifest rows (status kept) for every image named by the ground truth."""
    exhibits = [
        {"object_id": c, "image_index": int(_stem(k)) if _stem(k).isdigit() else None,
         "path": f"images/{k}", "status": "kept"}
        for k, c in zip(train["key"].to_pylist(), train["object_id"].to_pylist())
    ]
    queries, distractors = [], []
    for row in (r for t in querysets for r in t.to_pylist()):
        path = f"images/{row['key']}"
        if row["kind"] == "met":
            queries.append({"query_id": _stem(row["key"]), "source": "official", "path": path,
                            "photographer": row["photographer"], "page_url": row["url"],
                            "met_object_id": row["met_id"], "status": "kept"})
        else:
            distractors.append({"distractor_id": _stem(row["key"]), "path": path, "status": "kept",
                                "kind": "art" if row["kind"] == "other" else "noart",
                                "category": row["category"], "source_page": row["url"]})
    return {"exhibits": exhibits, "queries": queries, "distractors": distractors}


def import_release(src: str | os.PathLike, root: str | os.PathLike, copy: bool = False) -> Transfer:
    """Read a release (or our export) at SRC into ROOT's manifests, splits and images/."""
    src, root = Path(src), Path(root)
    gt = src / "ground_truth"
    if not gt.is_dir():
        raise UserError(f"{src}: no ground_truth/ folder; expected the MET release layout (see --help)")
    train = read_database(gt / GROUND_TRUTH["train"])
    val = read_queryset_table(gt / GROUND_TRUTH["val"])
    test = read_queryset_table(gt / GROUND_TRUTH["test"])
    overlap = set(val["key"].to_pylist()) & set(test["key"].to_pylist())
    if overlap:
        raise UserError(f"{gt}: {len(overlap)} images are in both valset and testset, e.g. {min(overlap)}")
    keys = train["key"].to_pylist() + val["key"].to_pylist() + test["key"].to_pylist()
    missing = [] if src.resolve() == root.resolve() else _place_images(keys, src / "images", root / "images", copy)
    for name, rows in _manifest_rows(train, [val, test]).items():
        manifests.write(rows, manifests.manifest_path(root, name), name, {"imported_from": str(src)})
    for split, table in (("train", train), ("val", val), ("test", test)):
        manifests.write(table, manifests.split_path(root, split), manifests.SPLIT_SCHEMAS[split],
                        {"imported_from": str(src)})
    return Transfer({"train": train.num_rows, "val": val.num_rows, "test": test.num_rows}, missing)
