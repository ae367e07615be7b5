"""The benchmark splits: train = kept exhibits; val/test = Met queries and distractors (met_protocol.md §3).

Met queries are split about val_fraction / (1 - val_fraction) by images, grouped so that no photographer
and no Met object is in both val and test: the groups are the connected components of the graph linking
each query's photographer to its object. Distractors (which have no photographer) are split in the same
proportion per kind. Everything is ordered canonically before a seeded shuffle, so the result depends only
on the inputs and the seed. Queries without a known photographer count as one photographer, "(unknown)".
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from metdata import manifests
from metdata.errors import UserError
from metdata.leakage import CHECKED, check_leakage
from metdata.review.store import accepted_links, rejected_distractors

UNKNOWN_PHOTOGRAPHER = "(unknown)"
KIND_OF_DISTRACTOR = {"art": "other", "noart": "noart"}  # manifest kind -> queryset kind


def _key(path: str) -> str:
    """Manifest paths are relative to ROOT, split keys to ROOT/images (as in the official files)."""
    return path.removeprefix("images/")


def _kept(table: pa.Table) -> list[dict]:
    return [r for r in table.to_pylist() if r["status"] == "kept" and r["path"]]


class _UnionFind:
    def __init__(self):
        self.parent: dict = {}

    def find(self, x):
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a, b):
        self.parent[self.find(a)] = self.find(b)


def _photographer(query: dict) -> tuple[str, str]:
    return ("photographer", query["photographer"] or UNKNOWN_PHOTOGRAPHER)


def photographer_object_groups(queries: list[dict]) -> list[list[dict]]:
    """Connected components of photographer <-> object links, each sorted by key, in canonical order."""
    uf = _UnionFind()
    for q in queries:
        uf.union(_photographer(q), ("object", q["met_id"]))
    groups: dict = {}
    for q in queries:
        groups.setdefault(uf.find(_photographer(q)), []).append(q)
    return sorted((sorted(g, key=lambda q: q["key"]) for g in groups.values()), key=lambda g: g[0]["key"])


def choose_val_groups(sizes: list[int], val_fraction: float, seed: int) -> set[int]:
    """Indices of the groups that go to val: a seeded order, each group taken if it brings the val size
    closer to val_fraction of the total; at least one group in val and one in test."""
    if len(sizes) < 2:
        raise ValueError("need at least two groups")
    target = val_fraction * sum(sizes)
    order = np.random.default_rng(seed).permutation(len(sizes))
    chosen, size = set(), 0
    for i in order:
        if abs(size + sizes[i] - target) < abs(size - target):
            chosen.add(int(i))
            size += sizes[i]
    if not chosen:
        chosen.add(int(min(order, key=lambda i: sizes[i])))
    if len(chosen) == len(sizes):
        chosen.discard(int(order[-1]))
    return chosen


def _split_distractors(rows: list[dict], val_fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Per kind: a seeded shuffle of the ids, the first round(val_fraction * n) to val."""
    val, test = [], []
    for i, kind in enumerate(sorted(KIND_OF_DISTRACTOR)):
        of_kind = sorted((r for r in rows if r["kind"] == kind), key=lambda r: r["distractor_id"])
        order = np.random.default_rng([seed, i + 1]).permutation(len(of_kind))
        n_val = round(val_fraction * len(of_kind))
        val += [of_kind[j] for j in order[:n_val]]
        test += [of_kind[j] for j in order[n_val:]]
    return val, test


def _leaks(root) -> dict[str, int]:
    """Run the leakage check (near copies of exhibits get status leak / met_copy and leave the dataset),
    then count every row so flagged, this time or before, per table."""
    check_leakage(root)
    counts = {}
    for table, (kind, status) in CHECKED.items():
        path = manifests.manifest_path(root, table)
        if path.exists():
            counts[table] = manifests.read(path, kind)["status"].to_pylist().count(status)
    return counts


@dataclass
class SplitSummary:
    """The paper-like table (one dict per split) and what was left out and why."""

    table: dict[str, dict[str, int]]
    leaks: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _met_queries(root, train_classes: set[int], notes: list[str]) -> list[dict]:
    links = accepted_links(root)
    queries = []
    unknown_object = 0
    for r in _kept(manifests.read(manifests.manifest_path(root, "queries"), "queries")):
        met_id = links.get(r["query_id"])  # the CSV id, an auto-accepted match or a review decision
        if met_id is None:
            continue  # not (yet) linked to a Met object: not part of the benchmark
        if met_id not in train_classes:
            unknown_object += 1
            continue
        queries.append({"key": _key(r["path"]), "met_id": int(met_id), "kind": "met",
                        "photographer": r["photographer"],
                        "category": None, "url": r["page_url"] or r["source_url"]})
    if unknown_object:
        notes.append(f"{unknown_object} linked queries left out: their Met object has no kept exhibit image")
    return queries


def _distractors(root) -> list[dict]:
    path = manifests.manifest_path(root, "distractors")
    if not path.exists():
        return []
    rejected = rejected_distractors(root)
    return [r for r in _kept(manifests.read(path, "distractors"))
            if r["distractor_id"] not in rejected and r["kind"] in KIND_OF_DISTRACTOR]


def _queryset_row(d: dict) -> dict:
    return {"key": _key(d["path"]), "met_id": None, "kind": KIND_OF_DISTRACTOR[d["kind"]], "photographer": None,
            "category": d["category"], "url": d["source_page"] or d["source_url"]}


def _file_order(row: dict) -> tuple[str, str]:
    """Order query sets by file name (a random hex id), not by folder: the scorer breaks confidence ties
    by this order, and sorting by key would put every test_met/ query before the distractors."""
    return row["key"].rsplit("/", 1)[-1], row["key"]


def summarise_queryset(rows: list[dict]) -> dict[str, int]:
    """One row of the split table (build-splits and stats share it, so their numbers agree)."""
    met = [r for r in rows if r["kind"] == "met"]
    return {"images": len(rows), "classes": len({r["met_id"] for r in met}), "met_queries": len(met),
            "photographers": len({_photographer(r) for r in met}),
            "art_distractors": sum(r["kind"] == "other" for r in rows),
            "noart_distractors": sum(r["kind"] == "noart" for r in rows)}


def build_splits(root: str | os.PathLike, val_fraction: float = 0.1, seed: int = 0) -> SplitSummary:
    """Write ROOT/splits/{train,val,test}.parquet; refuse (UserError) when the rules cannot hold."""
    if not 0 < val_fraction < 1:
        raise UserError(f"--val-fraction must be between 0 and 1 (exclusive), got {val_fraction}")
    notes: list[str] = []
    leaks = _leaks(root)  # first: it can drop queries and distractors
    exhibits = _kept(manifests.read(manifests.manifest_path(root, "exhibits"), "exhibits"))
    if not exhibits:
        raise UserError(f"{manifests.manifest_path(root, 'exhibits')}: no kept exhibit images to train on")
    train = sorted(({"key": _key(r["path"]), "object_id": r["object_id"]} for r in exhibits),
                   key=lambda r: (r["object_id"], r["key"]))
    queries = _met_queries(root, {r["object_id"] for r in train}, notes)
    if not queries:
        raise UserError(f"{root}: no Met queries (kept queries linked to a kept exhibit); "
                        "link them with `metdata match` and `metdata review` first")
    groups = photographer_object_groups(queries)
    if len(groups) < 2:
        raise UserError(
            f"{root}: all {len(queries)} Met queries form one photographer/object group "
            f"({len({_photographer(q) for q in queries})} photographers), so val and test would share a "
            "photographer or an object; add queries from other photographers"
        )
    in_val = choose_val_groups([len(g) for g in groups], val_fraction, seed)
    val = [q for i, g in enumerate(groups) if i in in_val for q in g]
    test = [q for i, g in enumerate(groups) if i not in in_val for q in g]
    val_d, test_d = _split_distractors(_distractors(root), val_fraction, seed)
    val = sorted(val + [_queryset_row(d) for d in val_d], key=_file_order)
    test = sorted(test + [_queryset_row(d) for d in test_d], key=_file_order)
    meta = {"val_fraction": val_fraction, "seed": seed}
    manifests.write(train, manifests.split_path(root, "train"), "train", meta)
    manifests.write(val, manifests.split_path(root, "val"), "queryset", meta)
    manifests.write(test, manifests.split_path(root, "test"), "queryset", meta)
    table = {"train": {"images": len(train), "classes": len({r["object_id"] for r in train})},
             "val": summarise_queryset(val), "test": summarise_queryset(test)}
    return SplitSummary(table, leaks, notes)


def format_table(summary: SplitSummary) -> str:
    """The summary as a fixed-width table like the paper's split table."""
    columns = [("images", "images"), ("classes", "classes"), ("met_queries", "Met queries"),
               ("photographers", "photographers"), ("art_distractors", "art distr."),
               ("noart_distractors", "non-art distr.")]
    lines = ["split " + "".join(f"{title:>{len(title) + 2}}" for _, title in columns)]
    for split, row in summary.table.items():
        lines.append(f"{split:<6}" + "".join(f"{row.get(c, '-'):>{len(title) + 2}}" for c, title in columns))
    return "\n".join(lines)
