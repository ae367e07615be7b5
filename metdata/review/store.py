"""Review decisions: an append-only JSON-lines file, so nothing is lost when the browser or server stops.

Every decision is one line of ``ROOT/review/decisions.jsonl`` (columns of the "decisions" manifest),
written and fsync'ed before the page hears "saved"; the latest line per item wins, so changing one's
mind is another line, never a rewrite. A line cut short by a crash (never acknowledged) is ignored on reading and cut
off before the next append.

What the decisions mean, for the split builder:

- query ``accept`` + object_id: the photo shows that Met object; ``reject``: it shows none of the
  candidates (not a Met query); ``skip``: no opinion yet.
- distractor ``accept``: confirmed as a distractor of its kind (art / noart, not a Met object);
  ``reject``: drop it from the distractors; ``skip``: no opinion yet.

`accepted_links(root)` and `rejected_distractors(root)` are the two functions other stages read.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from metdata import manifests
from metdata.errors import UserError

ITEM_KINDS = ("query", "distractor")
DECISIONS = ("accept", "reject", "skip")


def decisions_path(root: str | os.PathLike) -> Path:
    return Path(root) / "review" / "decisions.jsonl"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def check_decision(record: Mapping, known: KnownIds | None = None) -> str | None:
    """What is wrong with one decision record, or None when it is valid (against `known` ids if given)."""
    kind, item, decision, oid = (record.get(k) for k in ("item_kind", "item_id", "decision", "object_id"))
    if kind not in ITEM_KINDS:
        return f"item_kind {kind!r} is not one of {', '.join(ITEM_KINDS)}"
    if not isinstance(item, str) or not item:
        return "item_id is missing"
    if decision not in DECISIONS:
        return f"decision {decision!r} is not one of {', '.join(DECISIONS)}"
    if kind == "query" and decision == "accept":
        if not isinstance(oid, int) or isinstance(oid, bool):
            return "an accepted query needs an integer object_id"
    elif oid is not None:
        return f"object_id must be empty for a {kind} {decision}"
    if known is not None:
        ids = known.queries if kind == "query" else known.distractors
        if item not in ids:
            return f"unknown {kind} id {item!r}"
        if oid is not None and oid not in known.objects:
            return f"object_id {oid} is not among the crawled objects"
    return None


class KnownIds:
    """The query, distractor and object ids of a dataset root, to check imported decisions against."""

    def __init__(self, root: str | os.PathLike):
        self.queries = _ids(root, "queries", "query_id")
        self.distractors = _ids(root, "distractors", "distractor_id")
        self.objects = _ids(root, "objects", "object_id")


def _ids(root, kind: str, column: str) -> set:
    path = manifests.manifest_path(root, kind)
    return set(manifests.read(path, kind).column(column).to_pylist()) if path.exists() else set()


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """All decision records of a JSON-lines file; an unfinished last line (a crash mid-write) is skipped."""
    return [record for _, record in numbered_records(path)]


def numbered_records(path: str | os.PathLike) -> list[tuple[int, dict]]:
    """(line number, record) of each decision in a JSON-lines file, each checked for shape."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):  # the torn tail of an interrupted append
                continue
            record = None
        if not isinstance(record, dict):
            raise UserError(f"{path}: line {number}: not a JSON decision record")
        records.append((number, record))
    for number, record in records:
        problem = check_decision(record)
        if problem:
            raise UserError(f"{path}: line {number}: {problem}")
    return records


def latest(records: Iterable[Mapping]) -> dict[tuple[str, str], dict]:
    """The latest decision per (item_kind, item_id): later lines win."""
    return {(r["item_kind"], r["item_id"]): dict(r) for r in records}


class DecisionStore:
    """Appends decisions durably and keeps the latest one per item in memory (thread-safe)."""

    def __init__(self, root: str | os.PathLike, known: KnownIds | None = None):
        self.path = decisions_path(root)
        self.known = known
        self._lock = threading.Lock()
        self._latest = latest(read_jsonl(self.path))

    def get(self, kind: str, item_id: str) -> dict | None:
        with self._lock:
            return self._latest.get((kind, item_id))

    def decide(self, kind: str, item_id: str, decision: str, object_id: int | None = None) -> dict:
        """Validate, append and fsync one decision; return the record. Bad input is a UserError."""
        record = {
            "item_kind": kind,
            "item_id": item_id,
            "decision": decision,
            "object_id": object_id,
            "decided_at": now_iso(),
        }
        self.append([record])
        return record

    def append(self, records: list[dict]) -> None:
        """Append records (all valid, or none written) with one fsync."""
        for record in records:
            problem = check_decision(record, self.known)
            if problem:
                raise UserError(problem)
        lines = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                _drop_torn_tail(fd)
                os.write(fd, lines.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            self._latest.update(latest(records))


def _drop_torn_tail(fd: int) -> None:
    """A crash mid-append leaves a partial last line that was never reported saved: cut it off."""
    size = os.fstat(fd).st_size
    if not size or os.pread(fd, 1, size - 1) == b"\n":
        return
    end = size
    while end > 0:
        start = max(0, end - 65536)
        newline = os.pread(fd, end - start, start).rfind(b"\n")
        if newline >= 0:
            os.ftruncate(fd, start + newline + 1)
            return
        end = start
    os.ftruncate(fd, 0)


# -- export / import ----------------------------------------------------------------------------------
def export_decisions(root: str | os.PathLike, path: str | os.PathLike) -> int:
    """Write the latest decision per item to a "decisions" Parquet file; return the number of rows."""
    rows = sorted(
        latest(read_jsonl(decisions_path(root))).values(), key=lambda r: (r["item_kind"], r["item_id"])
    )
    manifests.write(rows, path, "decisions")
    return len(rows)


def import_decisions(root: str | os.PathLike, path: str | os.PathLike) -> int:
    """Append the decisions of a Parquet or JSON-lines file after checking every one against the manifests.

    All or nothing: the first bad line is a UserError naming the file and the line (1-based row for
    Parquet), and then nothing is appended. Returns the number of decisions imported.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such decision file")
    if path.suffix == ".parquet":
        rows = [(n, r) for n, r in enumerate(manifests.read(path, "decisions").to_pylist(), start=1)]
        where = "row"
    else:
        rows = numbered_records(path)
        where = "line"
    known = KnownIds(root)
    for number, record in rows:
        problem = check_decision(record, known)
        if problem:
            raise UserError(f"{path}: {where} {number}: {problem}")
        record.setdefault("decided_at", now_iso())
    DecisionStore(root, known).append([r for _, r in rows])
    return len(rows)


# -- what the split builder reads ---------------------------------------------------------------------
def accepted_links(root: str | os.PathLike) -> dict[str, int]:
    """query_id -> Met object id for every query whose object is confirmed.

    Sources, strongest last (later ones override): the met_object_id column of queries.parquet (an
    import-photos CSV), auto-accepted rank-1 matches of matches.parquet, then the latest human decision
    (accept sets the object; reject removes the link; skip leaves what was there).
    """
    links: dict[str, int] = {}
    queries_path = manifests.manifest_path(root, "queries")
    if queries_path.exists():
        q = manifests.read(queries_path, "queries").select(["query_id", "met_object_id"]).to_pydict()
        links.update({k: v for k, v in zip(q["query_id"], q["met_object_id"]) if v is not None})
    matches_path = manifests.manifest_path(root, "matches")
    if matches_path.exists():
        m = manifests.read(matches_path, "matches").to_pylist()
        links.update({r["query_id"]: r["object_id"] for r in m if r["auto_accept"] and r["rank"] == 1})
    for (kind, item), record in latest(read_jsonl(decisions_path(root))).items():
        if kind != "query":
            continue
        if record["decision"] == "accept":
            links[item] = record["object_id"]
        elif record["decision"] == "reject":
            links.pop(item, None)
    return links


def rejected_distractors(root: str | os.PathLike) -> set[str]:
    """distractor_ids a reviewer rejected (not a valid distractor of its kind): leave them out of splits."""
    return {
        item
        for (kind, item), r in latest(read_jsonl(decisions_path(root))).items()
        if kind == "distractor" and r["decision"] == "reject"
    }
