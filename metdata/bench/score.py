"""Score a predictions.csv (``query,prediction,confidence``) against a ground truth.

The ground truth is one of our split tables (``splits/test.parquet``) or an official ``testset.json`` /
``valset.json``. Predictions are joined to it by query key and scored in ground-truth order, so ties in
confidence are broken by that order (met_protocol.md §5).

Valid files take the fast path (pyarrow.csv, a hash join, numpy). When anything is wrong the file is read
again line by line with the csv module, only to name the first bad line: the error says what and where.
"""

from __future__ import annotations

import csv
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from metdata import manifests, official
from metdata.bench import metrics
from metdata.errors import UserError

COLUMNS = ("query", "prediction", "confidence")
MISSING_MODES = ("error", "wrong")
# What pyarrow.csv accepts as int64 and float64 (the fast path), so that the line-by-line diagnosis blames
# the line pyarrow failed on: ASCII digits only, no "+" on integers, no "_" separators, blanks around.
_INT = re.compile(r"[ \t]*-?[0-9]+[ \t]*")
_INT64 = range(-(2**63), 2**63)
_NEVER_CORRECT = np.iinfo(np.int64).min  # the prediction given to a missing query under --missing wrong


@dataclass(frozen=True)
class GroundTruth:
    """Query keys in file order, their class ids (-1 for distractors) and the Met-query mask."""

    path: Path
    keys: pa.Array
    labels: np.ndarray
    is_met: np.ndarray


def load_ground_truth(path: str | os.PathLike) -> GroundTruth:
    """Our val/test split parquet or an official valset.json/testset.json."""
    path = Path(path)
    if path.suffix == ".json":
        table = official.read_queryset_table(path)
    elif path.suffix == ".parquet":
        table = manifests.read(path, "queryset")
    else:
        raise UserError(f"{path}: ground truth must be a split .parquet or an official valset/testset .json")
    keys = table["key"].combine_chunks()
    if keys.null_count:
        raise UserError(f"{path}: {keys.null_count} queries have no key")
    met_id = table["met_id"].combine_chunks()
    is_met = met_id.is_valid().to_numpy(zero_copy_only=False)
    labels = pc.fill_null(met_id, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return GroundTruth(path, keys, labels, is_met)


@dataclass(frozen=True)
class Predictions:
    """Predictions aligned with a ground truth (one per GT query), plus how many were missing."""

    pred: np.ndarray
    conf: np.ndarray
    n_missing: int


def _read_fast(path: Path) -> pa.Table | None:
    """The three columns with their types, or None when pyarrow cannot read them as such."""
    try:
        return pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types={"query": pa.string(), "prediction": pa.int64(), "confidence": pa.float64()},
                include_columns=list(COLUMNS),
                strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowKeyError):
        return None


def first_problem(path: Path, gt_keys: set[str]) -> str | None:
    """Read the file line by line and describe its first bad line (None when every line is fine)."""
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            return f"{path}: empty file; expected the header {','.join(COLUMNS)}"
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            return f"{path}: line 1: missing column {missing[0]!r} (the header must name {', '.join(COLUMNS)})"
        col = {c: header.index(c) for c in COLUMNS}
        seen: dict[str, int] = {}
        n_rows = 0
        for row in reader:
            line = reader.line_num
            if not row:
                continue
            n_rows += 1
            if len(row) != len(header):
                return f"{path}: line {line}: {len(row)} fields, the header has {len(header)}"
            query, prediction, confidence = (row[col[c]] for c in COLUMNS)
            if not _INT.fullmatch(prediction):
                return f"{path}: line {line}: prediction {prediction!r} is not an integer class id"
            if int(prediction) not in _INT64:
                return f"{path}: line {line}: prediction {prediction!r} does not fit a 64-bit class id"
            try:
                if not confidence.isascii() or "_" in confidence:
                    raise ValueError(confidence)
                value = float(confidence)
            except ValueError:
                return f"{path}: line {line}: confidence {confidence!r} is not a number"
            if not math.isfinite(value):
                return f"{path}: line {line}: confidence {confidence!r} is not finite"
            if query in seen:
                return f"{path}: line {line}: duplicate query {query!r} (first on line {seen[query]})"
            seen[query] = line
            if query not in gt_keys:
                return f"{path}: line {line}: query {query!r} is not in the ground truth"
        if n_rows == 0:
            return f"{path}: no predictions after the header"
    return None


def _fail(path: Path, gt: GroundTruth, fallback: str) -> None:
    problem = first_problem(path, set(gt.keys.to_pylist()))
    raise UserError(problem or f"{path}: {fallback}")


def read_predictions(path: str | os.PathLike, gt: GroundTruth, missing: str = "error") -> Predictions:
    """Validate a predictions file against `gt` and align it with the ground-truth order.

    ``missing="wrong"`` scores ground-truth queries without a prediction as wrong with the lowest
    confidence instead of refusing the file.
    """
    path = Path(path)
    if missing not in MISSING_MODES:
        raise ValueError(f"missing must be one of {MISSING_MODES}")
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    table = _read_fast(path)
    if table is None or table.num_rows == 0:
        _fail(path, gt, "not a readable query,prediction,confidence CSV")
    if table["prediction"].null_count or table["confidence"].null_count:
        _fail(path, gt, "a prediction or confidence is empty")
    conf = table["confidence"].to_numpy()
    pred = table["prediction"].to_numpy()
    if not np.isfinite(conf).all():
        _fail(path, gt, "a confidence is not finite")
    queries = table["query"].combine_chunks()
    if queries.equals(gt.keys):
        pos = np.arange(len(gt.keys))  # already in ground-truth order (as `metdata knn` writes them)
    else:
        pos = pc.index_in(queries, value_set=gt.keys)
        if pos.null_count:
            _fail(path, gt, "a query is not in the ground truth")
        pos = pos.to_numpy()
    counts = np.bincount(pos, minlength=len(gt.keys))
    if (counts > 1).any():
        _fail(path, gt, "a query appears twice")
    absent = np.flatnonzero(counts == 0)
    if absent.size and pc.count_distinct(gt.keys).as_py() != len(gt.keys):
        # a repeated GT key maps every prediction to its first entry, so the repeat looks absent
        raise UserError(f"{gt.path}: duplicate query keys in the ground truth")
    if absent.size and missing == "error":
        first = gt.keys[int(absent[0])].as_py()
        raise UserError(
            f"{path}: {absent.size} ground-truth queries of {gt.path} have no prediction, the first is "
            f"{first!r} (entry {int(absent[0])}); pass --missing wrong to score them as wrong"
        )
    aligned_pred = np.full(len(gt.keys), _NEVER_CORRECT, dtype=np.int64)
    aligned_conf = np.full(len(gt.keys), -np.inf, dtype=np.float64)
    aligned_pred[pos] = pred
    aligned_conf[pos] = conf
    return Predictions(aligned_pred, aligned_conf, int(absent.size))


def score_file(predictions: str | os.PathLike, gt_path: str | os.PathLike, missing: str = "error") -> dict:
    """Read, validate and score; the metrics as fractions with counts and the tie report."""
    gt = load_ground_truth(gt_path)
    preds = read_predictions(predictions, gt, missing)
    scores = metrics.evaluate(preds.pred, preds.conf, gt.labels, gt.is_met)
    return {**scores.as_dict(), "n_missing": preds.n_missing, "gt": str(gt.path), "predictions": str(predictions)}
