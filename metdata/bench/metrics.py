"""The MET metrics (met_protocol.md §4) with our two deliberate rules (§5), in numpy alone.

Inputs are aligned arrays in ground-truth order: ``pred`` (predicted class id), ``conf`` (confidence)
and ``label`` (true class id, any value for a distractor) with ``is_met`` marking the Met queries.

- GAP sorts all N queries by descending confidence, stably: ties keep ground-truth order. The official
  code has no tie-break, so with ties its GAP depends on the sort implementation; :func:`tie_spread`
  reports the most and least favourable tie orders so the effect is visible.
- A distractor is never correct, whatever was predicted for it (the official code counts a ``-1``
  prediction on a distractor as correct, and GAP can then exceed 1).
- M, the number of Met queries, is counted from ``is_met``; M = 0 raises instead of returning NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from metdata.errors import UserError


def correct(pred: np.ndarray, label: np.ndarray, is_met: np.ndarray) -> np.ndarray:
    """rel_i: a Met query whose prediction equals its label. Distractors are never correct."""
    return np.asarray(is_met, dtype=bool) & (np.asarray(pred) == np.asarray(label))


def _count_met(is_met: np.ndarray) -> int:
    m = int(np.count_nonzero(is_met))
    if m == 0:
        raise UserError("the ground truth has no Met queries (M = 0): GAP, GAP- and ACC are undefined")
    return m


def _check_conf(conf: np.ndarray) -> np.ndarray:
    conf = np.asarray(conf, dtype=np.float64)
    if np.isnan(conf).any():
        raise UserError(f"confidence is NaN at position {int(np.flatnonzero(np.isnan(conf))[0])}")
    return conf


def average_precision(rel_ranked: np.ndarray, m: int) -> float:
    """(1/M) sum_k P(k) rel(k) for relevance flags already in rank order.

    Only relevant ranks contribute, and the j-th relevant rank k_j has P(k_j) = j / k_j.
    """
    ranks = np.flatnonzero(rel_ranked) + 1
    return float(np.sum(np.arange(1, ranks.size + 1) / ranks) / m)


def rank(conf: np.ndarray) -> np.ndarray:
    """Order of queries by descending confidence; equal confidences keep input (ground-truth) order."""
    return np.argsort(-np.asarray(conf, dtype=np.float64), kind="stable")


def gap(pred, conf, label, is_met) -> float:
    """Global average precision over all N queries, normalised by M (distractors occupy ranks)."""
    conf = _check_conf(conf)
    m = _count_met(is_met)
    rel = correct(pred, label, is_met)
    return average_precision(rel[rank(conf)], m)


def gap_minus(pred, conf, label, is_met) -> float:
    """GAP on the M Met queries alone (distractors deleted before ranking)."""
    is_met = np.asarray(is_met, dtype=bool)
    keep = np.flatnonzero(is_met)
    return gap(np.asarray(pred)[keep], np.asarray(conf)[keep], np.asarray(label)[keep], is_met[keep])


def acc(pred, label, is_met) -> float:
    """Accuracy on the Met queries; confidence and distractors play no part."""
    m = _count_met(is_met)
    return float(np.count_nonzero(correct(pred, label, is_met)) / m)


def _tie_orders(rel_ranked: np.ndarray, conf_ranked: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Relevance in the most and least favourable orders of tied queries, and the number of tied queries.

    Within a run of equal confidences only the number of correct answers matters: the best order puts
    them first in the run, the worst last.
    """
    n = rel_ranked.size
    starts_run = np.ones(n, dtype=bool)
    starts_run[1:] = conf_ranked[1:] != conf_ranked[:-1]
    if starts_run.all():
        return rel_ranked, rel_ranked, 0
    starts = np.flatnonzero(starts_run)
    run = np.cumsum(starts_run) - 1
    sizes = np.diff(np.append(starts, n))
    hits = np.add.reduceat(rel_ranked.astype(np.int64), starts)
    offset = np.arange(n) - starts[run]
    best = offset < hits[run]
    worst = offset >= (sizes - hits)[run]
    return best, worst, int(sizes[sizes > 1].sum())


def tie_spread(pred, conf, label, is_met) -> tuple[float, float]:
    """(GAP under the most favourable tie order, GAP under the least favourable one)."""
    scores = evaluate(pred, conf, label, is_met)
    return scores.gap_best_ties, scores.gap_worst_ties


@dataclass(frozen=True)
class Scores:
    """The three metrics as fractions, with the counts and the tie report."""

    gap: float
    gap_minus: float
    acc: float
    n_queries: int
    n_met: int
    n_tied: int
    gap_best_ties: float
    gap_worst_ties: float

    def as_dict(self) -> dict:
        return {
            "gap": self.gap,
            "gap_minus": self.gap_minus,
            "acc": self.acc,
            "n_queries": self.n_queries,
            "n_met": self.n_met,
            "n_tied": self.n_tied,
            "gap_best_ties": self.gap_best_ties,
            "gap_worst_ties": self.gap_worst_ties,
            "tie_rule": "stable: ties kept in ground-truth order",
        }


def evaluate(pred, conf, label, is_met) -> Scores:
    """All metrics of one prediction set (arrays aligned with the ground truth, in its order), one sort."""
    conf, is_met = _check_conf(conf), np.asarray(is_met, dtype=bool)
    m = _count_met(is_met)
    rel = correct(pred, label, is_met)
    order = rank(conf)
    rel_ranked = rel[order]
    best, worst, tied = _tie_orders(rel_ranked, conf[order])
    return Scores(
        gap=average_precision(rel_ranked, m),
        gap_minus=average_precision(rel_ranked[is_met[order]], m),
        acc=float(np.count_nonzero(rel) / m),
        n_queries=int(conf.size),
        n_met=m,
        n_tied=tied,
        gap_best_ties=average_precision(best, m),
        gap_worst_ties=average_precision(worst, m),
    )
