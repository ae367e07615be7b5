"""GAP, GAP- and ACC: hand-computed cases, the protocol's edge cases, and the official formula."""

import itertools

import numpy as np
import pytest

from metdata.bench import metrics
from metdata.errors import UserError

D = -1  # label of a distractor in these tests (any value works: is_met decides)


def official_gap(pred, conf, label, is_met):
    """The official evaluation as met_protocol.md §4 describes it: sort by confidence, loop, divide by M.

    Written independently with Python lists; valid only without ties (the official sort has no tie-break)
    and without the -1-on-distractor quirk (no test below predicts the distractor label).
    """
    order = sorted(range(len(conf)), key=lambda i: conf[i], reverse=True)
    hits, total = 0, 0.0
    for rank_k, i in enumerate(order, start=1):
        if is_met[i] and pred[i] == label[i]:
            hits += 1
            total += hits / rank_k
    return total / sum(bool(m) for m in is_met)


def official_gap_minus(pred, conf, label, is_met):
    keep = [i for i in range(len(conf)) if is_met[i]]
    return official_gap([pred[i] for i in keep], [conf[i] for i in keep], [label[i] for i in keep],
                        [True] * len(keep))


def test_hand_computed_case():
    # ranks by confidence: q0 (correct), q2 (distractor), q1 (correct), q3 (wrong Met query)
    label = np.array([5, 6, D, 8])
    is_met = np.array([True, True, False, True])
    pred = np.array([5, 6, 9, 1])
    conf = np.array([0.9, 0.5, 0.7, 0.1])
    # GAP = (1/3) * (1/1 + 2/3); GAP- ranks q0, q1, q3: (1/3) * (1 + 1); ACC = 2/3
    assert metrics.gap(pred, conf, label, is_met) == pytest.approx((1 + 2 / 3) / 3)
    assert metrics.gap_minus(pred, conf, label, is_met) == pytest.approx(2 / 3)
    assert metrics.acc(pred, label, is_met) == pytest.approx(2 / 3)


def test_protocol_toy_tie_case_in_file_order_and_its_spread():
    label, is_met = np.array([1, 2, D, D]), np.array([True, True, False, False])
    pred, conf = np.array([1, 0, 0, 0]), np.ones(4)
    assert metrics.gap(pred, conf, label, is_met) == 0.5
    best, worst = metrics.tie_spread(pred, conf, label, is_met)
    assert (best, worst) == (0.5, 0.125)
    # the reversed file order is the protocol's 0.125: ties follow the ground-truth order
    assert metrics.gap(pred[::-1], conf, label[::-1], is_met[::-1]) == 0.125
    scores = metrics.evaluate(pred, conf, label, is_met)
    assert scores.n_tied == 4 and scores.gap_worst_ties == 0.125


def test_no_ties_means_no_spread():
    rng = np.random.default_rng(1)
    label = rng.integers(0, 5, 50)
    is_met = rng.random(50) < 0.4
    pred, conf = rng.integers(0, 5, 50), rng.random(50)
    scores = metrics.evaluate(pred, conf, label, is_met)
    assert scores.n_tied == 0
    assert scores.gap_best_ties == scores.gap == scores.gap_worst_ties


def test_minus_one_prediction_on_a_distractor_is_wrong():
    label, is_met = np.array([3, -1]), np.array([True, False])
    pred, conf = np.array([3, -1]), np.array([0.2, 0.9])
    # the official code would count the distractor correct (GAP 2.0); ours: rank 2 -> precision 1/2
    assert metrics.gap(pred, conf, label, is_met) == 0.5
    assert metrics.correct(pred, label, is_met).tolist() == [True, False]


def test_no_met_queries_is_an_error_not_nan():
    label, is_met = np.array([D, D]), np.array([False, False])
    pred, conf = np.array([1, 2]), np.array([0.5, 0.4])
    for call in (lambda: metrics.gap(pred, conf, label, is_met), lambda: metrics.acc(pred, label, is_met),
                 lambda: metrics.evaluate(pred, conf, label, is_met)):
        with pytest.raises(UserError, match="M = 0"):
            call()


def test_m_counts_met_queries_not_all_queries():
    label, is_met = np.array([1, D, D, D]), np.array([True, False, False, False])
    pred, conf = np.array([1, 0, 0, 0]), np.array([1.0, 0.3, 0.2, 0.1])
    assert metrics.gap(pred, conf, label, is_met) == 1.0
    assert metrics.acc(pred, label, is_met) == 1.0


def test_nan_confidence_is_rejected():
    with pytest.raises(UserError, match="NaN"):
        metrics.gap(np.array([1]), np.array([np.nan]), np.array([1]), np.array([True]))


@pytest.mark.parametrize("seed", range(20))
def test_agrees_with_the_official_formula_without_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    label = rng.integers(0, 20, n)
    is_met = rng.random(n) < rng.uniform(0.05, 0.9)
    is_met[rng.integers(n)] = True
    pred = np.where(rng.random(n) < 0.5, label, rng.integers(0, 20, n))
    conf = rng.permutation(n) + rng.random(n) * 0.5  # distinct values
    lists = pred.tolist(), conf.tolist(), label.tolist(), is_met.tolist()
    assert abs(metrics.gap(pred, conf, label, is_met) - official_gap(*lists)) < 1e-9
    assert abs(metrics.gap_minus(pred, conf, label, is_met) - official_gap_minus(*lists)) < 1e-9
    expected_acc = sum(p == y for p, y, m in zip(*lists[::2], lists[3]) if m) / sum(is_met)
    assert abs(metrics.acc(pred, label, is_met) - expected_acc) < 1e-12


def test_stable_rank_keeps_ground_truth_order_among_ties():
    assert metrics.rank(np.array([0.5, 0.9, 0.5, 0.5])).tolist() == [1, 0, 2, 3]


@pytest.mark.parametrize("seed", range(6))
def test_tie_spread_is_the_range_over_all_tie_orders(seed):
    rng = np.random.default_rng(seed)
    n = 7
    conf = rng.integers(0, 3, n).astype(float)
    label = rng.integers(0, 3, n)
    is_met = rng.random(n) < 0.6
    is_met[0] = True
    pred = np.where(rng.random(n) < 0.6, label, 9)
    rel = metrics.correct(pred, label, is_met)
    values = {
        metrics.average_precision(rel[list(order)], int(is_met.sum()))
        for order in itertools.permutations(range(n))
        if all(conf[order[i]] >= conf[order[i + 1]] for i in range(n - 1))
    }
    scores = metrics.evaluate(pred, conf, label, is_met)
    assert (scores.gap_best_ties, scores.gap_worst_ties) == pytest.approx((max(values), min(values)))
    assert min(values) - 1e-12 <= scores.gap <= max(values) + 1e-12
    assert scores.n_tied == sum(int((conf == c).sum()) for c in set(conf.tolist()) if (conf == c).sum() > 1)
