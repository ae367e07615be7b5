"""The MET kNN classifier (met_protocol.md §6): exact inner-product search and the paper's confidence.

For each query, the K nearest exhibits give similarities sigma_j and classes kappa_j. With C_K the distinct
classes among them and n the number of training classes::

    s_c    = max(0, max_{j: kappa_j = c} sigma_j)                         (c in C_K)
    conf_c = exp(t s_c) / (sum_{c' in C_K} exp(t s_c') + (n - |C_K|))

a softmax over all n classes where absent classes have similarity 0. The prediction is the nearest
neighbour's class (the argmax for t > 0 when the top similarity is positive; exact similarity ties go to the
smallest class id, as in the official code; when every similarity is <= 0 the official argmax falls to the
smallest id of all n classes, we keep the 1-NN class) and its confidence is the largest conf_c. K and t are
tuned on val GAP over the paper's grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from metdata import manifests
from metdata.bench import metrics
from metdata.bench.score import load_ground_truth
from metdata.bench.whiten import pcawhitenlearn, whitenapply
from metdata.errors import UserError

GRID_K = (1, 2, 3, 5, 7, 10, 15, 20, 50)
GRID_T = (0.01, 0.1, 1, 5, 10, 15, 20, 25, 30, 50, 100, 500)
_ROWS_PER_BLOCK = 2048  # bounds the q x K x K comparison arrays of met_confidence


def search(database: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k inner-product search (faiss IndexFlatIP): similarities and database row indices."""
    import faiss

    database = np.ascontiguousarray(database, dtype=np.float32)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    if database.shape[1] != queries.shape[1]:
        raise UserError(f"descriptor dimensions differ: database {database.shape[1]}, queries {queries.shape[1]}")
    index = faiss.IndexFlatIP(database.shape[1])
    index.add(database)
    return index.search(queries, min(k, database.shape[0]))


def _confidence_block(sims: np.ndarray, classes: np.ndarray, n_classes: int, t: float):
    same = classes[:, :, None] == classes[:, None, :]  # same[q, j, i]: neighbours j and i share a class
    earlier = np.tril(np.ones(same.shape[1:], dtype=bool), -1)
    first = ~(same & earlier).any(axis=2)  # the first neighbour of each distinct class
    class_max = np.where(same, sims[:, None, :], -np.inf).max(axis=2)
    s = np.maximum(class_max, 0.0)
    top = s.max(axis=1, keepdims=True)  # t*top is the largest logit (absent classes are at 0)
    n_present = first.sum(axis=1)
    if (n_present > n_classes).any():
        raise ValueError("more distinct classes among the neighbours than n_classes")
    # conf = exp(t*top) / Z, computed as 1 / (Z * exp(-t*top)) so nothing overflows.
    z = np.where(first, np.exp(t * (s - top)), 0.0).sum(axis=1) + (n_classes - n_present) * np.exp(-t * top[:, 0])
    nearest = np.where(sims == sims.max(axis=1, keepdims=True), classes, np.iinfo(np.int64).max).min(axis=1)
    return nearest, 1.0 / z


def met_confidence(sims: np.ndarray, classes: np.ndarray, n_classes: int, t: float):
    """(prediction, confidence) per query from its K neighbours' similarities and classes (q x K)."""
    if t <= 0:
        raise UserError(f"t must be positive, got {t}")
    sims = np.asarray(sims, dtype=np.float64)
    classes = np.asarray(classes, dtype=np.int64)
    pred = np.empty(sims.shape[0], dtype=np.int64)
    conf = np.empty(sims.shape[0], dtype=np.float64)
    for start in range(0, sims.shape[0], _ROWS_PER_BLOCK):
        block = slice(start, start + _ROWS_PER_BLOCK)
        pred[block], conf[block] = _confidence_block(sims[block], classes[block], n_classes, t)
    return pred, conf


@dataclass(frozen=True)
class Tuning:
    """The chosen (K, t), its val GAP, and the val GAP of every grid point in grid order."""

    k: int
    t: float
    gap: float
    grid: list[tuple[int, float, float]]


def tune(sims, classes, n_classes, labels, is_met, ks=GRID_K, ts=GRID_T) -> Tuning:
    """Exhaustive K x t grid maximising GAP (with distractors); the first grid point wins exact ties.

    `sims` and `classes` are the val queries' neighbours for the largest K, sorted by similarity.
    """
    grid, best = [], None
    for k in ks:
        for t in ts:
            pred, conf = met_confidence(sims[:, :k], classes[:, :k], n_classes, t)
            value = metrics.gap(pred, conf, labels, is_met)
            grid.append((k, t, value))
            if best is None or value > best[2]:
                best = (k, t, value)
    return Tuning(best[0], best[1], best[2], grid)


# ---- the baseline end to end: descriptors -> whitening -> search -> tuned confidence -> predictions.csv


@dataclass(frozen=True)
class KnnPredictions:
    """kNN predictions for one split, in its ground-truth order, and how they were made."""

    keys: list[str]
    pred: np.ndarray
    conf: np.ndarray
    k: int
    t: float
    whiten_dim: int | None  # dimensions after whitening (None: not whitened)
    tuning: Tuning | None  # None when K and t were given


def _rows_for(keys: list[str], X: np.ndarray, wanted: list[str], where: str) -> np.ndarray:
    """The descriptor rows of `wanted` keys, in that order; a key without a descriptor is an error."""
    row_of = {key: i for i, key in enumerate(keys)}
    missing = [key for key in wanted if key not in row_of]
    if missing:
        raise UserError(f"{where}: {len(missing)} images have no descriptor, e.g. {missing[0]!r}; "
                        "run `metdata features` again")
    return X[np.fromiter((row_of[key] for key in wanted), dtype=np.int64, count=len(wanted))]


def run_knn(root, split: str, backbone: str = "efficientnet-lite0", whiten_dim: int | None = 512,
            k: int | None = None, t: float | None = None) -> KnnPredictions:
    """Predict `split` ("val" or "test") of ROOT; K and t are tuned on val unless both are given."""
    from metdata.bench.features import load_descriptors  # imports torch: only when descriptors are needed

    if split not in ("val", "test"):
        raise UserError(f"split must be val or test, got {split!r}")
    if (k is None) != (t is None):
        raise UserError("give both --k and --t, or neither to tune them on val")
    train = manifests.read(manifests.split_path(root, "train"), "train")
    train_keys = train["key"].to_pylist()
    train_classes = train["object_id"].to_numpy()
    if not train_keys:
        raise UserError(f"{manifests.split_path(root, 'train')}: no exhibits")
    n_classes = int(np.unique(train_classes).size)
    database = _rows_for(*load_descriptors(root, backbone, "train"), train_keys, "train")
    whitening = None if whiten_dim is None else pcawhitenlearn(database, whiten_dim)

    def project(X: np.ndarray) -> np.ndarray:
        return X if whitening is None else whitenapply(X, *whitening)

    database = project(database)

    def neighbours(name: str, k_max: int):
        gt = load_ground_truth(manifests.split_path(root, name))
        keys = gt.keys.to_pylist()
        queries = project(_rows_for(*load_descriptors(root, backbone, name), keys, name))
        sims, idx = search(database, queries, k_max)
        return gt, keys, sims, train_classes[idx]

    tuning = None
    if k is None:
        gt, keys, sims, classes = neighbours("val", max(GRID_K))
        if not gt.is_met.any():
            raise UserError(f"{gt.path}: no Met queries, so val GAP cannot tune K and t; give --k and --t")
        tuning = tune(sims, classes, n_classes, gt.labels, gt.is_met)
        k, t = tuning.k, tuning.t
    if split == "test" or tuning is None:
        gt, keys, sims, classes = neighbours(split, k)
    pred, conf = met_confidence(sims[:, :k], classes[:, :k], n_classes, t)
    return KnnPredictions(keys, pred, conf, k, t, None if whiten_dim is None else database.shape[1], tuning)


def write_predictions(path, keys: list[str], pred: np.ndarray, conf: np.ndarray) -> None:
    """predictions.csv with the header query,prediction,confidence (confidences round-trip exactly)."""
    table = pa.table({"query": pa.array(keys, pa.string()), "prediction": pa.array(pred, pa.int64()),
                      "confidence": pa.array(conf, pa.float64())})
    plain = not any(set(key) & set(',"\r\n') for key in keys)
    options = pacsv.WriteOptions(include_header=False, quoting_style="none" if plain else "needed")
    with manifests.atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(b"query,prediction,confidence\n")
        pacsv.write_csv(table, f, options)
