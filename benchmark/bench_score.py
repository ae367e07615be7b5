"""Scoring speed: `metdata score` end to end on N predictions vs the official evaluation's formula.

    .venv/bin/python benchmark/bench_score.py [--n 1000000] [--met-share 0.05]

Ours: read the GT parquet, read predictions.csv (pyarrow.csv), join by key, GAP/GAP-/ACC plus the tie
spread (metdata.bench.score.score_file). The peer is the official evaluation as met_protocol.md §4
describes it: arrays already aligned by position (the official code has no file or join), a Python sort by
confidence and Python loops for GAP, GAP- and ACC. Both must give the same numbers (no ties here).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from metdata import manifests
from metdata.bench import metrics
from metdata.bench.score import load_ground_truth, read_predictions, score_file


def official_style(pred: list, conf: list, label: list) -> tuple[float, float, float]:
    """Python sort + loops, label -1 for distractors (the official convention)."""
    order = sorted(range(len(conf)), key=lambda i: conf[i], reverse=True)
    n_met = sum(1 for y in label if y != -1)
    hits, gap = 0, 0.0
    for k, i in enumerate(order, start=1):
        if label[i] != -1 and pred[i] == label[i]:
            hits += 1
            gap += hits / k
    met_order = [i for i in order if label[i] != -1]
    hits, gap_minus = 0, 0.0
    for k, i in enumerate(met_order, start=1):
        if pred[i] == label[i]:
            hits += 1
            gap_minus += hits / k
    acc = sum(1 for i in met_order if pred[i] == label[i])
    return gap / n_met, gap_minus / n_met, acc / n_met


def make_data(folder: Path, n: int, met_share: float, seed: int = 0) -> tuple[Path, Path, Path]:
    """The GT parquet and the same predictions twice: rows in GT order and shuffled."""
    rng = np.random.default_rng(seed)
    is_met = rng.random(n) < met_share
    ids = rng.choice(2**48, size=n, replace=False)
    keys = [f"test_met/{i:012x}.jpg" if m else f"test_other/{i:012x}.jpg" for i, m in zip(ids.tolist(), is_met)]
    labels = rng.integers(0, 224_408, n)
    gt = pa.table({"key": keys, "met_id": pa.array(np.where(is_met, labels, 0), mask=~is_met),
                   "kind": np.where(is_met, "met", "other"), "photographer": pa.nulls(n, pa.string()),
                   "category": pa.nulls(n, pa.string()), "url": pa.nulls(n, pa.string())})
    gt_path = manifests.write(gt, folder / "test.parquet", "queryset")
    pred = np.where(rng.random(n) < 0.5, labels, rng.integers(0, 224_408, n))
    conf = rng.random(n)  # continuous: no ties
    table = pa.table({"query": keys, "prediction": pred, "confidence": conf})
    aligned, shuffled = folder / "aligned.csv", folder / "shuffled.csv"
    pacsv.write_csv(table, aligned, pacsv.WriteOptions(quoting_style="none"))
    pacsv.write_csv(table.take(rng.permutation(n)), shuffled, pacsv.WriteOptions(quoting_style="none"))
    return gt_path, aligned, shuffled


def timed(fn, repeat: int = 3):
    """Best of `repeat` runs: (wall s, cpu s of this process, all threads), and the result."""
    best, result = (float("inf"), float("inf")), None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        best = min(best, (time.perf_counter() - start, time.process_time() - start_cpu))
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--met-share", type=float, default=0.05)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        gt_path, aligned, shuffled = make_data(Path(tmp), args.n, args.met_share)
        t_aligned, result = timed(lambda: score_file(aligned, gt_path))
        t_total, result = timed(lambda: score_file(shuffled, gt_path))
        t_gt, gt = timed(lambda: load_ground_truth(gt_path))
        t_read, preds = timed(lambda: read_predictions(shuffled, gt))
        t_metrics, _ = timed(lambda: metrics.evaluate(preds.pred, preds.conf, gt.labels, gt.is_met))
        lists = preds.pred.tolist(), preds.conf.tolist(), np.where(gt.is_met, gt.labels, -1).tolist()
        t_peer, peer = timed(lambda: official_style(*lists), repeat=1)
    ours = (result["gap"], result["gap_minus"], result["acc"])
    assert max(abs(a - b) for a, b in zip(ours, peer)) < 1e-9, (ours, peer)
    print(f"N = {args.n:,} predictions, M = {result['n_met']:,} Met queries; GAP/GAP-/ACC agree to 1e-9")
    print(f"{'':36}{'wall s':>8}{'cpu s':>8}")
    for name, (wall, cpu) in (("ours end to end, rows in GT order", t_aligned),
                              ("ours end to end, rows shuffled", t_total),
                              ("  ground truth parquet", t_gt), ("  predictions.csv read + join", t_read),
                              ("  metrics + tie spread", t_metrics),
                              ("official formula (Python loops)", t_peer)):
        print(f"{name:<36}{wall:8.3f}{cpu:8.3f}")
    print(f"ratio peer / ours (cpu): end to end {t_peer[1] / t_aligned[1]:.1f}x (GT order), {t_peer[1] / t_total[1]:.1f}x (shuffled); metrics only {t_peer[1] / t_metrics[1]:.1f}x")


if __name__ == "__main__":
    main()
