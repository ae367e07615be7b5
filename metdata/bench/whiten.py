"""PCA-whitening learned on the exhibit descriptors (met_protocol.md §6), as in cnnimageretrieval-pytorch.

Descriptors are rows here (X is n x D), so z = P (x - m) becomes Z = (X - m) P^T.
"""

from __future__ import annotations

import numpy as np

from metdata.errors import UserError

# Eigenvalues below this fraction of the largest are numerically zero (fewer descriptors than dimensions,
# or duplicates): whitening them would blow up noise, so they are never kept.
RELATIVE_EIGENVALUE_FLOOR = 1e-9
ROWS_PER_BLOCK = 65_536


def _blocks(n: int):
    """Row blocks, so that float64 work on 400,000 x 2,048 descriptors never needs a full float64 copy."""
    return (slice(start, start + ROWS_PER_BLOCK) for start in range(0, n, ROWS_PER_BLOCK))


def pcawhitenlearn(X: np.ndarray, d: int | None = None, s: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Learn (m, P) from training descriptors X (n x D): P = Lambda_d^(-s/2) V_d^T, eigenvalues descending.

    d is capped at D and at the number of numerically non-zero eigenvalues (so it can come out smaller
    than asked on a small training set: check P.shape[0]). s = 1 is full whitening.
    """
    n, dim = X.shape
    if n < 2:
        raise UserError(f"PCA-whitening needs at least 2 training descriptors, got {n}")
    m = sum(X[b].sum(axis=0, dtype=np.float64) for b in _blocks(n)) / n
    gram = np.zeros((dim, dim))
    for b in _blocks(n):
        Xc = X[b].astype(np.float64) - m
        gram += Xc.T @ Xc
    C = (gram + gram.T) / (2 * n)
    eigval, eigvec = np.linalg.eigh(C)  # symmetric solver, ascending
    eigval, eigvec = eigval[::-1], eigvec[:, ::-1]
    usable = int(np.count_nonzero(eigval > RELATIVE_EIGENVALUE_FLOOR * max(eigval[0], 0.0)))
    if usable == 0:
        raise UserError("PCA-whitening: the training descriptors are all identical")
    d = min(dim if d is None else d, dim, usable)
    P = (eigval[:d] ** (-s / 2))[:, None] * eigvec[:, :d].T
    return m, P


def l2_normalize(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.maximum(norms, np.finfo(X.dtype).tiny)


def whitenapply(X: np.ndarray, m: np.ndarray, P: np.ndarray) -> np.ndarray:
    """z = P (x - m) for every row, then L2-normalise; float32 like the input (pcawhitenlearn chose d)."""
    Z = np.empty((X.shape[0], P.shape[0]), dtype=np.float32)
    for b in _blocks(X.shape[0]):
        Z[b] = l2_normalize((X[b].astype(np.float64) - m) @ P.T)
    return Z
