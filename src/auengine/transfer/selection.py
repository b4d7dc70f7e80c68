"""Feature selection of Zamzmi et al.: Symmetric Uncertainty and ReliefF (scikit-learn selectors).

Both rank features on the training data only (``fit``) and keep the top ``k``;
``ranking_`` holds all feature indices, best first, so top-5/10/15 share one fit.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.validation import check_is_fitted, validate_data


def entropy(labels: np.ndarray) -> float:
    """Shannon entropy (bits) of a discrete array."""
    _, codes = np.unique(labels, return_inverse=True)
    return _entropy_of_codes(codes.ravel())


def _entropy_of_codes(codes: np.ndarray) -> float:
    counts = np.bincount(codes)
    p = counts[counts > 0] / len(codes)
    return float(-(p * np.log2(p)).sum())


def symmetric_uncertainty(x: np.ndarray, y: np.ndarray) -> float:
    """SU = 2 I(X;Y) / (H(X) + H(Y)) for discrete arrays; 0 when both are constant. Range 0-1."""
    _, x_codes = np.unique(x, return_inverse=True)
    y_values, y_codes = np.unique(y, return_inverse=True)
    x_codes, y_codes = x_codes.ravel(), y_codes.ravel()
    h_x, h_y = _entropy_of_codes(x_codes), _entropy_of_codes(y_codes)
    if h_x + h_y == 0:
        return 0.0
    mutual = h_x + h_y - _entropy_of_codes(x_codes * len(y_values) + y_codes)
    return float(2 * mutual / (h_x + h_y))


def equal_frequency_edges(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Inner bin edges (<= n_bins - 1, unique) that split ``values`` (N,) into equal-count bins."""
    return np.unique(np.quantile(values, np.linspace(0, 1, n_bins + 1)[1:-1]))


class _RankingSelector(SelectorMixin, BaseEstimator):
    """Keep the ``k`` best-ranked features; subclasses set ``scores_`` in ``fit``."""

    def _get_support_mask(self):
        check_is_fitted(self, "ranking_")
        mask = np.zeros(self.n_features_in_, dtype=bool)
        mask[self.ranking_[: min(self.k, self.n_features_in_)]] = True
        return mask

    def _rank(self) -> None:
        self.ranking_ = np.argsort(-self.scores_, kind="stable")


class SymmetricUncertaintySelector(_RankingSelector):
    """Top ``k`` features by SU with the class, features discretised into ``n_bins`` equal-frequency bins."""

    def __init__(self, k: int = 10, n_bins: int = 10):
        self.k = k
        self.n_bins = n_bins

    def fit(self, X, y):
        X, y = validate_data(self, X, y)
        self.edges_ = [equal_frequency_edges(column, self.n_bins) for column in X.T]
        self.scores_ = np.array([symmetric_uncertainty(np.searchsorted(edges, column, side="right"), y)
                                 for edges, column in zip(self.edges_, X.T)])
        self._rank()
        return self


class ReliefFSelector(_RankingSelector):
    """Top ``k`` features by ReliefF (Kononenko 1994): nearest hits and misses per class, Manhattan distance.

    Features are scaled to [0, 1] on the training data; ``n_samples`` reference rows
    (all when None) each update the weights with their ``n_neighbors`` nearest hits
    and, per other class, misses weighted by the class prior.
    """

    def __init__(self, k: int = 10, n_neighbors: int = 10, n_samples: int | None = None, random_state: int = 0):
        self.k = k
        self.n_neighbors = n_neighbors
        self.n_samples = n_samples
        self.random_state = random_state

    def fit(self, X, y):
        X, y = validate_data(self, X, y)
        span = X.max(axis=0) - X.min(axis=0)
        scaled = (X - X.min(axis=0)) / np.where(span > 0, span, 1)
        classes, y_index = np.unique(y, return_inverse=True)
        priors = np.bincount(y_index) / len(y)
        rng = np.random.default_rng(self.random_state)
        rows = np.arange(len(X)) if self.n_samples is None or self.n_samples >= len(X) else \
            rng.choice(len(X), self.n_samples, replace=False)
        weights = np.zeros(X.shape[1])
        for i in rows:
            distance = np.abs(scaled - scaled[i]).sum(axis=1)
            distance[i] = np.inf
            for c in range(len(classes)):
                members = np.flatnonzero(y_index == c)
                members = members[members != i]
                if not len(members):
                    continue
                near = members[np.argsort(distance[members], kind="stable")[: self.n_neighbors]]
                diff = np.abs(scaled[near] - scaled[i]).mean(axis=0)
                if c == y_index[i]:
                    weights -= diff
                else:
                    weights += priors[c] / (1 - priors[y_index[i]]) * diff
        self.scores_ = weights / len(rows)
        self._rank()
        return self
