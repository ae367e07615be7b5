"""A scripted stand-in for the person who checks matches in `metdata review`, for the demo only.

The sample museum knows what every photo shows, so it can answer as a careful reviewer would: looking at
a photo beside its ranked candidates, accept the candidate that is the right object, or reject all when
the right object is not among them (or the photo shows nothing in the collection). Distractors the
crawler kept are confirmed unless the sample says they are copies of a Met object. The decisions go
through the same append-only store as the web page's, so everything downstream is the real path.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.compute as pc

from metdata import manifests
from metdata.matching import sample_ground_truth
from metdata.review.store import DecisionStore, KnownIds, now_iso
from metdata.sample.model import World


def review_from_ground_truth(world: World, root: str | Path) -> Counter:
    """Record one decision per kept query and distractor of `root`; return the count per decision."""
    root = Path(root)
    truth = {query_id: object_id for query_id, object_id, _ in sample_ground_truth(world, root)}
    queries = manifests.read(manifests.manifest_path(root, "queries"), "queries")
    kept = queries.filter(pc.equal(queries["status"], "kept"))
    candidates: dict[str, set[int]] = {}
    matches_path = manifests.manifest_path(root, "matches")
    if matches_path.exists():
        for row in manifests.read(matches_path, "matches").select(["query_id", "object_id"]).to_pylist():
            candidates.setdefault(row["query_id"], set()).add(row["object_id"])

    records = []
    for row in kept.select(["query_id", "met_object_id"]).to_pylist():
        if row["met_object_id"] is not None:  # linked by the photographer's own CSV: nothing to check
            continue
        shown = truth.get(row["query_id"])
        accept = shown is not None and shown in candidates.get(row["query_id"], ())
        records.append(_record("query", row["query_id"], "accept" if accept else "reject", shown if accept else None))

    copies = {f"{f.pageid}" for f in world.commons_files.values() if f.met_object_id is not None}
    distractors_path = manifests.manifest_path(root, "distractors")
    if distractors_path.exists():
        table = manifests.read(distractors_path, "distractors")
        for row in table.filter(pc.equal(table["status"], "kept")).select(["distractor_id", "pageid"]).to_pylist():
            decision = "reject" if str(row["pageid"]) in copies else "accept"
            records.append(_record("distractor", row["distractor_id"], decision, None))

    DecisionStore(root, KnownIds(root)).append(records)
    return Counter(f"{r['item_kind']} {r['decision']}" for r in records)


def _record(kind: str, item_id: str, decision: str, object_id: int | None) -> dict:
    return {"item_kind": kind, "item_id": item_id, "decision": decision, "object_id": object_id,
            "decided_at": now_iso()}
