"""The AuE-IPA pain-intensity regressor (paper Section III-D), a scikit-learn estimator.

input  x (N, k): intensities (0-5) of the k core AUs, multiplied element-wise by their
                 engagement levels (fixed, from the Grad-CAM engagement step)
hidden 3 units, ReLU, dropout
output 1 value: pain intensity on the training scale (e.g. FLACC 0-10)

Trained with SmoothL1Loss and Adam (lr 0.01, batch 8, 100 epochs, paper Section V-C),
in numpy: the net is tiny, so a framework's per-step overhead would dominate (a
1,000-row fit takes about 1 s here instead of 10-20 s with torch).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ..columns import au_column
from ..errors import InputError
from ..scales import get_scale


class AuEIPARegressor(RegressorMixin, BaseEstimator):
    """MLP (k -> hidden -> 1) on engagement-weighted AU intensities.

    Parameters
    ----------
    aus : list of str, optional
        AU ids ("AU27", ...) in input order. With a DataFrame ``X`` the columns
        AU27_r, ... are taken from it; with an array, its columns are these AUs.
        None: use every column of ``X`` as given.
    engagement : mapping AU -> float or array (k,), optional
        Engagement level per input AU (the weights of the input layer). None, or
        ``weighted=False``, gives the unweighted MLP.
    weighted : bool
        Multiply the inputs by ``engagement``.
    hidden : int
        Hidden units (paper: 3).
    dropout : float
        Dropout on the hidden layer (the paper uses dropout without giving the rate).
    lr, batch_size, epochs : training (paper: 0.01, 8, 100); loss SmoothL1.
    scale : str
        Pain scale of ``y``; ``predict_level`` clips to its range and bins by it.
    random_state : int
        Seed for initialisation, shuffling and dropout (fit is deterministic).
    """

    def __init__(self, aus=None, engagement=None, weighted: bool = True, hidden: int = 3, dropout: float = 0.1,
                 lr: float = 0.01, batch_size: int = 8, epochs: int = 100, scale: str = "flacc",
                 random_state: int = 0):
        self.aus = aus
        self.engagement = engagement
        self.weighted = weighted
        self.hidden = hidden
        self.dropout = dropout
        self.lr = lr
        self.batch_size = batch_size
        self.epochs = epochs
        self.scale = scale
        self.random_state = random_state

    # -- inputs -------------------------------------------------------------------------------
    def _columns(self, X):
        """With a DataFrame and ``aus``: its AU columns in ``aus`` order; otherwise X unchanged."""
        if isinstance(X, pd.DataFrame) and self.aus is not None:
            columns = [au_column(au) for au in self.aus]
            missing = [c for c in columns if c not in X.columns]
            if missing:
                raise InputError(f"the AU table lacks {', '.join(missing)}, needed by this regressor "
                                 f"(AUs {', '.join(self.aus)}); compute them with `auengine aus`")
            return X[columns].to_numpy(dtype=float)
        return X

    def _check_width(self, X: np.ndarray) -> np.ndarray:
        if self.aus is not None and X.shape[1] != len(self.aus):
            raise InputError(f"X has {X.shape[1]} columns but the regressor has {len(self.aus)} AUs")
        return X

    def input_weights(self, n_features: int) -> np.ndarray:
        """The fixed element-wise weights (k,) of the input layer (ones when unweighted)."""
        if not self.weighted or self.engagement is None:
            return np.ones(n_features)
        if isinstance(self.engagement, (Mapping, pd.Series)):
            if self.aus is None:
                raise InputError("engagement given per AU needs `aus` (the AU order of the inputs)")
            missing = [au for au in self.aus if au not in self.engagement]
            if missing:
                raise InputError(f"no engagement level for {', '.join(missing)}")
            weights = np.array([float(self.engagement[au]) for au in self.aus])
        else:
            weights = np.asarray(self.engagement, dtype=float).ravel()
        if weights.shape != (n_features,) or not np.isfinite(weights).all():
            raise InputError(f"engagement must hold {n_features} finite values, one per input AU")
        return weights

    # -- fit / predict ------------------------------------------------------------------------
    def fit(self, X, y):
        """Train on AU intensities ``X`` (N, k) and pain scores ``y`` (N,) on ``scale``."""
        X, y = validate_data(self, self._columns(X), y, reset=True, dtype=np.float64, y_numeric=True)
        self._check_width(X)
        if not 0 <= self.dropout < 1 or self.hidden < 1 or self.batch_size < 1 or self.epochs < 0:
            raise InputError("need 0 <= dropout < 1, hidden >= 1, batch_size >= 1 and epochs >= 0")
        self.input_weights_ = self.input_weights(X.shape[1])
        rng = np.random.default_rng(self.random_state)
        self.params_ = init_mlp(rng, X.shape[1], self.hidden)
        self.loss_curve_ = train_mlp(self.params_, X * self.input_weights_, y, rng, lr=self.lr,
                                     batch_size=self.batch_size, epochs=self.epochs, dropout=self.dropout)
        return self

    def predict(self, X) -> np.ndarray:
        """Pain intensity (N,) on the training scale (not clipped)."""
        check_is_fitted(self, "params_")
        X = self._check_width(validate_data(self, self._columns(X), reset=False, dtype=np.float64))
        return mlp_forward(self.params_, X * self.input_weights_)[0]

    def predict_intensity(self, X) -> np.ndarray:
        """Pain intensity (N,), like every baseline's ``predict_intensity``; = ``predict`` for this regressor."""
        return self.predict(X)

    def predict_level(self, X) -> np.ndarray:
        """Pain levels (N,): the intensity clipped to the scale's range and binned by it."""
        scale = get_scale(self.scale)
        return scale.level(np.clip(self.predict(X), scale.low, scale.high))

    # -- weights as plain arrays (bundles) -----------------------------------------------------
    def state_arrays(self) -> dict[str, np.ndarray]:
        """Learned arrays by name (for safetensors): input weights and the MLP's layers."""
        check_is_fitted(self, "params_")
        return {"input_weights": self.input_weights_, **self.params_}

    def load_state_arrays(self, arrays: Mapping[str, np.ndarray]) -> "AuEIPARegressor":
        """Set the learned state from :meth:`state_arrays` output; shapes are checked."""
        k = int(np.asarray(arrays["input_weights"]).shape[0])
        expected = {name: value.shape for name, value in init_mlp(np.random.default_rng(0), k, self.hidden).items()}
        got = {name: np.asarray(arrays.get(name, np.zeros(0)), dtype=np.float64) for name in expected}
        wrong = [name for name in expected if got[name].shape != expected[name]]
        if wrong:
            raise InputError(f"regressor weights {', '.join(wrong)} do not fit {k} inputs and {self.hidden} hidden units")
        self.params_ = got
        self.input_weights_ = np.asarray(arrays["input_weights"], dtype=np.float64)
        self.n_features_in_ = k
        return self


def smooth_l1(error: np.ndarray) -> np.ndarray:
    """Elementwise SmoothL1 loss (beta 1) of prediction errors, as torch's ``nn.SmoothL1Loss(reduction="none")``."""
    magnitude = np.abs(error)
    return np.where(magnitude < 1, 0.5 * magnitude ** 2, magnitude - 0.5)


def init_mlp(rng: np.random.Generator, n_inputs: int, hidden: int) -> dict[str, np.ndarray]:
    """PyTorch's nn.Linear initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases."""
    bound1, bound2 = 1 / np.sqrt(n_inputs), 1 / np.sqrt(hidden)
    return {"w1": rng.uniform(-bound1, bound1, (n_inputs, hidden)), "b1": rng.uniform(-bound1, bound1, hidden),
            "w2": rng.uniform(-bound2, bound2, (hidden, 1)), "b2": rng.uniform(-bound2, bound2, 1)}


def mlp_forward(params: dict, x: np.ndarray, keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Output (N,) and hidden activations (N, hidden); ``keep`` is an inverted-dropout mask."""
    hidden = np.maximum(x @ params["w1"] + params["b1"], 0.0)
    if keep is not None:
        hidden = hidden * keep
    return (hidden @ params["w2"] + params["b2"])[:, 0], hidden


def train_mlp(params: dict, x: np.ndarray, y: np.ndarray, rng: np.random.Generator, *, lr: float,
              batch_size: int, epochs: int, dropout: float, betas=(0.9, 0.999), eps: float = 1e-8) -> list[float]:
    """Adam on SmoothL1 (beta 1), in place; the mean training loss per epoch.

    Plain numpy (the net has a few dozen weights, so framework overhead would dominate);
    the same arithmetic as torch.optim.Adam and nn.SmoothL1Loss.
    """
    moments = {name: (np.zeros_like(p), np.zeros_like(p)) for name, p in params.items()}
    step, losses = 0, []
    for _ in range(epochs):
        total = 0.0
        for batch in np.array_split(rng.permutation(len(x)), max(1, -(-len(x) // batch_size))):
            xb, yb = x[batch], y[batch]
            keep = (rng.random((len(batch), params["w1"].shape[1])) >= dropout) / (1 - dropout)
            out, hidden = mlp_forward(params, xb, keep)
            error = out - yb
            total += float(smooth_l1(error).sum())
            d_out = (np.clip(error, -1, 1) / len(batch))[:, None]
            d_hidden = (d_out @ params["w2"].T) * keep * (hidden > 0)
            grads = {"w2": hidden.T @ d_out, "b2": d_out.sum(0), "w1": xb.T @ d_hidden, "b1": d_hidden.sum(0)}
            step += 1
            for name, grad in grads.items():
                m, v = moments[name]
                m *= betas[0]
                m += (1 - betas[0]) * grad
                v *= betas[1]
                v += (1 - betas[1]) * grad ** 2
                m_hat, v_hat = m / (1 - betas[0] ** step), v / (1 - betas[1] ** step)
                params[name] -= lr * m_hat / (np.sqrt(v_hat) + eps)
        losses.append(total / len(x))
    return losses
