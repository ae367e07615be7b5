"""PCA-whitening (met_protocol.md §6): learned on train, identity covariance, top-d by eigenvalue."""

import numpy as np
import pytest

from metdata.bench.whiten import l2_normalize, pcawhitenlearn, whitenapply
from metdata.errors import UserError


def correlated(n, dim, seed=0):
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(dim, dim)) * np.linspace(3, 0.1, dim)
    return l2_normalize(rng.normal(size=(n, dim)) @ mixing + rng.normal(size=dim)).astype(np.float32)


def test_whitened_train_descriptors_have_identity_covariance_before_l2():
    X = correlated(2000, 32)
    m, P = pcawhitenlearn(X)
    Z = (X.astype(np.float64) - m) @ P.T
    assert np.allclose(Z.mean(axis=0), 0, atol=1e-9)
    assert np.allclose(Z.T @ Z / len(X), np.eye(32), atol=1e-6)


def test_top_d_rows_follow_descending_variance_and_d_is_at_most_D():
    X = correlated(1000, 16, seed=1)
    _, P = pcawhitenlearn(X, d=4)
    assert P.shape == (4, 16)
    _, P_all = pcawhitenlearn(X, d=64)
    assert P_all.shape == (16, 16)
    # rows of P are V^T scaled by 1/sqrt(lambda): their inverse norms are the descending std devs
    stds = 1 / np.linalg.norm(P_all, axis=1)
    assert np.all(np.diff(stds) <= 1e-12)
    assert np.allclose(np.abs(P_all[:4]), np.abs(P), atol=1e-9)  # same eigenvectors up to sign


def test_apply_l2_normalises_and_keeps_float32():
    X = correlated(500, 8, seed=2)
    Z = whitenapply(X, *pcawhitenlearn(X, d=5))
    assert Z.dtype == np.float32 and Z.shape == (500, 5)
    assert np.allclose(np.linalg.norm(Z, axis=1), 1, atol=1e-6)


def test_fewer_descriptors_than_dimensions_keeps_only_usable_eigenpairs():
    X = correlated(10, 32, seed=3)
    m, P = pcawhitenlearn(X, d=512)
    assert P.shape[0] == 9  # n - 1 non-zero eigenvalues after centring
    assert np.all(np.isfinite(whitenapply(X, m, P)))


def test_degenerate_inputs_are_user_errors():
    with pytest.raises(UserError):
        pcawhitenlearn(np.ones((1, 4)))
    with pytest.raises(UserError):
        pcawhitenlearn(np.ones((5, 4)))


def test_blocked_computation_equals_one_block(monkeypatch):
    from metdata.bench import whiten

    X = correlated(1000, 12, seed=4)
    m, P = pcawhitenlearn(X, d=6)
    Z = whitenapply(X, m, P)
    monkeypatch.setattr(whiten, "ROWS_PER_BLOCK", 97)
    m_b, P_b = pcawhitenlearn(X, d=6)
    assert np.allclose(m, m_b, atol=1e-12) and np.allclose(np.abs(P), np.abs(P_b), atol=1e-8)
    assert np.allclose(whitenapply(X, m_b, P_b), Z, atol=1e-5)
