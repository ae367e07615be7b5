"""The kNN classifier: faiss search, the MET confidence against a naive implementation, tuning, end to end."""

import math

import numpy as np
import pytest

from metdata import manifests
from metdata.bench import knn, metrics
from metdata.bench.score import score_file
from metdata.errors import UserError


def naive_confidence(sims, classes, n_classes, t):
    """met_protocol.md §6 literally: per-class max (floored at 0), the softmax formula, 1-NN class."""
    preds, confs = [], []
    for row_sims, row_classes in zip(sims.tolist(), classes.tolist()):
        best: dict[int, float] = {}
        for s, c in zip(row_sims, row_classes):
            best[c] = max(best.get(c, -math.inf), s)
        s_c = {c: max(0.0, s) for c, s in best.items()}
        denominator = sum(math.exp(t * s) for s in s_c.values()) + (n_classes - len(s_c))
        confs.append(max(math.exp(t * s) for s in s_c.values()) / denominator)
        top = max(row_sims)
        preds.append(min(c for s, c in zip(row_sims, row_classes) if s == top))
    return np.array(preds), np.array(confs)


@pytest.mark.parametrize("t", knn.GRID_T)
def test_confidence_matches_the_formula_on_random_neighbourhoods(t):
    rng = np.random.default_rng(int(t * 100))
    q, k, n_classes = 300, 10, 1000
    sims = -np.sort(-rng.uniform(-0.3, 1.0, size=(q, k)), axis=1)
    classes = rng.integers(0, 6, size=(q, k))  # few classes: many repeats within a neighbourhood
    pred, conf = knn.met_confidence(sims, classes, n_classes, t)
    expected_pred, expected_conf = naive_confidence(sims, classes, n_classes, t)
    assert np.array_equal(pred, expected_pred)
    assert np.allclose(conf, expected_conf, rtol=1e-12, atol=0)


def test_confidence_edge_cases():
    # all similarities <= 0: every class is at 0, conf = 1/n; the 1-NN class is still predicted
    pred, conf = knn.met_confidence(np.array([[-0.1, -0.2]]), np.array([[7, 3]]), 10, t=5)
    assert pred.tolist() == [7] and conf[0] == pytest.approx(0.1, rel=1e-15)
    # an exact similarity tie goes to the smallest class id
    pred, _ = knn.met_confidence(np.array([[0.5, 0.5, 0.1]]), np.array([[9, 4, 1]]), 10, t=5)
    assert pred.tolist() == [4]
    # large t saturates to exactly 1.0 in float64, as the protocol describes
    _, conf = knn.met_confidence(np.array([[0.99]]), np.array([[1]]), 224_408, t=500)
    assert conf[0] == 1.0
    with pytest.raises(UserError):
        knn.met_confidence(np.array([[0.5]]), np.array([[1]]), 10, t=0)


def test_search_is_exact_inner_product():
    rng = np.random.default_rng(0)
    database = rng.normal(size=(500, 16)).astype(np.float32)
    queries = rng.normal(size=(20, 16)).astype(np.float32)
    sims, idx = knn.search(database, queries, 5)
    brute = queries @ database.T
    assert np.array_equal(idx[:, 0], brute.argmax(axis=1))
    assert np.allclose(sims, -np.sort(-brute, axis=1)[:, :5], atol=1e-4)
    sims, idx = knn.search(database[:3], queries, 50)  # k capped at the database size
    assert idx.shape == (20, 3)


def test_tune_picks_the_best_grid_point_and_the_first_on_ties():
    rng = np.random.default_rng(3)
    q = 200
    sims = -np.sort(-rng.uniform(0, 1, size=(q, 50)), axis=1)
    classes = rng.integers(0, 30, size=(q, 50))
    labels = np.where(rng.random(q) < 0.6, classes[:, 0], 99)
    is_met = rng.random(q) < 0.5
    is_met[0] = True
    tuning = knn.tune(sims, classes, 40, labels, is_met)
    gaps = [g for _, _, g in tuning.grid]
    assert len(gaps) == len(knn.GRID_K) * len(knn.GRID_T)
    first_best = int(np.argmax(gaps))  # argmax returns the first maximum
    assert (tuning.k, tuning.t, tuning.gap) == tuning.grid[first_best]
    # with K = 1 only, the confidence is monotone in the top similarity: every t ties, the first wins
    tied = knn.tune(sims, classes, 40, labels, is_met, ks=(1,), ts=(5, 10, 1))
    assert len({g for _, _, g in tied.grid}) == 1 and tied.t == 5


@pytest.fixture()
def knn_root(tmp_path, monkeypatch):
    """A dataset root with splits and synthetic descriptors: each query is a noisy copy of an exhibit."""
    rng = np.random.default_rng(0)
    n_classes, dim = 40, 24
    centres = rng.normal(size=(n_classes, dim))
    train = [{"key": f"MET/{c}/{i}.jpg", "object_id": c} for c in range(n_classes) for i in range(2)]
    manifests.write(train, manifests.split_path(tmp_path, "train"), "train")
    store = {"train": ([r["key"] for r in train], np.repeat(centres, 2, axis=0) + 0.1 * rng.normal(size=(80, dim)))}
    for split, n in (("val", 30), ("test", 60)):
        met = rng.random(n) < 0.5
        ids = rng.integers(0, n_classes, n)
        rows = [{"key": f"test_met/{split}{i:08x}.jpg" if m else f"test_other/{split}{i:08x}.jpg",
                 "met_id": int(c) if m else None, "kind": "met" if m else "other"} for i, (m, c) in enumerate(zip(met, ids))]
        manifests.write(rows, manifests.split_path(tmp_path, split), "queryset")
        X = np.where(met[:, None], centres[ids], rng.normal(size=(n, dim))) + 0.6 * rng.normal(size=(n, dim))
        store[split] = ([r["key"] for r in rows][::-1], X[::-1])  # stored order differs from the split's
    from metdata.bench import features

    def load_descriptors(root, backbone, split):
        keys, X = store[split]
        return keys, (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)

    monkeypatch.setattr(features, "load_descriptors", load_descriptors)
    return tmp_path


def test_run_knn_tunes_on_val_and_writes_scorable_predictions(knn_root, tmp_path):
    result = knn.run_knn(knn_root, "test", whiten_dim=16)
    assert result.tuning is not None and (result.k, result.t) == result.tuning.grid[
        int(np.argmax([g for *_, g in result.tuning.grid]))][:2]
    assert result.whiten_dim == 16
    out = tmp_path / "predictions.csv"
    knn.write_predictions(out, result.keys, result.pred, result.conf)
    assert out.read_text().splitlines()[0] == "query,prediction,confidence"
    scores = score_file(out, manifests.split_path(knn_root, "test"))
    gt = manifests.read(manifests.split_path(knn_root, "test"), "queryset").to_pydict()
    labels = np.array([-1 if m is None else m for m in gt["met_id"]])
    is_met = np.array([m is not None for m in gt["met_id"]])
    assert scores["gap"] == metrics.gap(result.pred, result.conf, labels, is_met)  # confidences round-trip
    assert scores["acc"] > 0.5  # the noisy copies are mostly recognised


def test_run_knn_with_given_k_t_and_no_whitening(knn_root):
    result = knn.run_knn(knn_root, "val", whiten_dim=None, k=3, t=10)
    assert result.tuning is None and result.whiten_dim is None and (result.k, result.t) == (3, 10)
    with pytest.raises(UserError, match="both"):
        knn.run_knn(knn_root, "val", k=3)


def test_knn_command_writes_predictions_that_score(knn_root, tmp_path, capsys):
    from metdata.cli import main

    out = tmp_path / "val.csv"
    with pytest.raises(SystemExit) as exc:
        main(["knn", "--root", str(knn_root), "--split", "val", "--whiten-dim", "8", "--out", str(out)])
        raise SystemExit(0)
    printed = capsys.readouterr().out
    assert exc.value.code == 0 and "tuned on val (108 grid points)" in printed and "whitened to 8-D" in printed
    assert score_file(out, manifests.split_path(knn_root, "val"))["n_queries"] == 30


def test_tuning_on_a_val_set_without_met_queries_names_it(knn_root):
    path = manifests.split_path(knn_root, "val")
    val = manifests.read(path, "queryset").to_pylist()
    manifests.write([{**r, "met_id": None, "kind": "other"} for r in val], path, "queryset")
    with pytest.raises(UserError, match=r"val\.parquet: no Met queries, so val GAP cannot tune"):
        knn.run_knn(knn_root, "test")
    assert knn.run_knn(knn_root, "test", k=1, t=1).tuning is None
