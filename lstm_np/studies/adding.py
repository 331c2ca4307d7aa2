"""The adding problem (Hochreiter and Schmidhuber, 1997), the model that learns it, and the cost of a step.

Each input sequence has two channels: values drawn uniformly from [0, 1],
and a marker that is 1 at exactly two steps (one in the first half of the
sequence, one in the second) and 0 elsewhere. The target is the sum of the
two marked values. A linear head reads the last hidden state; the loss is
the MSE. Always predicting 1.0 (the mean target) gives MSE = Var(sum of two
U(0, 1)) = 1/6 ~ 0.167: a model must beat that to have learned anything. The
first marked value must be carried across at least T/2 steps.

Both studies train on it: ``studies.comparison`` (RNN, GRU, LSTM) and
``studies.laboratory`` (the cell variants).
"""

from __future__ import annotations

import time

import numpy as np

from ..cells.variants import VARIANTS
from ..feedforward import Dense
from ..losses import masked_mse
from ..optim import Adam, clip_grad_norm
from ..sequence import LSTM
from ..sequence.variants import VariantLSTM
from .settings import CELLS, FULL

__all__ = ["adding_problem", "AddingModel", "train_adding", "time_per_step"]


def adding_problem(n, T, rng, dtype=np.float64):
    """A batch of the adding problem.

    Parameters
    ----------
    n : int
        Number of sequences.
    T : int >= 2
        Sequence length.
    rng : numpy.random.Generator
    dtype : float32 or float64

    Returns
    -------
    x : (n, T, 2) ndarray
        ``x[..., 0]`` values, uniform in [0, 1]; ``x[..., 1]`` markers: 1 at
        one step in ``[0, T // 2)`` and one in ``[T // 2, T)``, else 0.
    y : (n,) ndarray
        The sum of the two marked values.
    """
    if T < 2:
        raise ValueError(f"T must be at least 2 to hold two markers; got {T}")
    values = rng.uniform(0.0, 1.0, size=(n, T))
    first = rng.integers(0, T // 2, size=n)
    second = rng.integers(T // 2, T, size=n)
    markers = np.zeros((n, T))
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1).astype(dtype)
    y = (values[rows, first] + values[rows, second]).astype(dtype)
    return x, y


def _cell_forward(cell, x, state=None):
    """(out, state_T, cache) for any of the three cells (or a variant); a state
    is a tuple, (h,) for the RNN and GRU and (h, c) for the LSTM and its variants."""
    if isinstance(cell, (LSTM, VariantLSTM)):
        h0, c0 = (None, None) if state is None else state
        out, (h, c), cache = cell.forward(x, h0=h0, c0=c0)
        return out, (h, c), cache
    out, h, cache = cell.forward(x, h0=None if state is None else state[0])
    return out, (h,), cache


def _cell_backward(cell, dout, cache, dstate):
    """(dx, dstate_0) for any of the three cells (or a variant); ``dstate`` as the state."""
    if isinstance(cell, (LSTM, VariantLSTM)):
        dx, dh0, dc0 = cell.backward(dout, cache, dh_T=dstate[0], dc_T=dstate[1])
        return dx, (dh0, dc0)
    dx, dh0 = cell.backward(dout, cache, dh_T=dstate[0])
    return dx, (dh0,)


class AddingModel:
    """A recurrent cell and a linear head on its last hidden state.

    prediction = h_T W + b, with ``W`` (H, 1) and ``b`` starting at 1.0 (the
    mean target, so an untrained model starts near the baseline).

    Parameters
    ----------
    cell : {"RNN", "GRU", "LSTM"} or a variant's name
        One of ``CELLS`` (the fast layers), or a key of
        ``lstm_np.cells.variants.VARIANTS`` ("lstm", "peephole", ...), run
        by ``VariantLSTM`` on the reference path.
    hidden_size : int
    rng : numpy.random.Generator or int

    Attributes
    ----------
    params, grads : dict of ndarray
        Every parameter of the cell (``"cell.Wx"``, ...) and the head
        (``"head.W"``, ``"head.b"``); the arrays are the layers' own, so an
        optimizer on ``params`` trains the model.
    """

    def __init__(self, cell, hidden_size, rng):
        rng = np.random.default_rng(rng)
        if cell in CELLS:
            self.cell = CELLS[cell](2, hidden_size, rng=rng)
        elif cell in VARIANTS:
            self.cell = VariantLSTM(cell, 2, hidden_size, rng=rng)
        else:
            raise ValueError(f"cell must be one of {list(CELLS)} or a variant {list(VARIANTS)}; got {cell!r}")
        self.head = Dense(hidden_size, 1, rng=rng, bias=1.0)
        layers = {"cell": self.cell, "head": self.head}
        self.params = {f"{n}.{k}": v for n, layer in layers.items() for k, v in layer.params.items()}
        self.grads = {f"{n}.{k}": v for n, layer in layers.items() for k, v in layer.grads.items()}

    def predict(self, x):
        """``x`` (B, T, 2) -> predictions (B,)."""
        _, state, _ = _cell_forward(self.cell, x)
        return self.head.forward(state[0])[0][:, 0]

    def loss_and_grads(self, x, y):
        """MSE on a batch; fills ``grads`` and returns the loss."""
        out, state, cache = _cell_forward(self.cell, x)
        pred, head_cache = self.head.forward(state[0])
        loss, dpred = masked_mse(pred[:, 0], y)
        dh_T = self.head.backward(dpred[:, None], head_cache)
        dstate = (dh_T,) + tuple(np.zeros_like(s) for s in state[1:])
        _cell_backward(self.cell, np.zeros_like(out), cache, dstate)
        return loss


def train_adding(cell, T, seed, s=FULL):
    """Train one model on the adding problem of length T.

    Parameters
    ----------
    cell : {"RNN", "GRU", "LSTM"} or a variant's name (see ``AddingModel``)
    T : int
    seed : int
        Seeds the initial weights and the training batches.
    s : Settings

    Returns
    -------
    model : AddingModel
    losses : (s.steps,) ndarray
        Training loss at each step.
    test_mse : float
        MSE on ``s.n_test`` held-out sequences (the same for every cell and seed).
    """
    rng = np.random.default_rng(seed)
    model = AddingModel(cell, s.hidden_size, rng)
    opt = Adam(model.params, lr=s.lr)
    losses = np.empty(s.steps)
    for k in range(s.steps):
        x, y = adding_problem(s.batch_size, T, rng)
        losses[k] = model.loss_and_grads(x, y)
        clip_grad_norm(model.grads, s.max_norm)
        opt.step(model.grads)
    x_test, y_test = _test_set(T, s)
    test_mse = float(np.mean((model.predict(x_test) - y_test) ** 2))
    return model, losses, test_mse


def _test_set(T, s):
    return adding_problem(s.n_test, T, np.random.default_rng(1_000_003 + T))


def time_per_step(cell, T, s=FULL, seed=0):
    """Median wall-clock seconds of one training step (forward, backward, clip, Adam).

    Parameters
    ----------
    cell : {"RNN", "GRU", "LSTM"} or a variant's name (see ``AddingModel``)
    T : int
    s : Settings
        Uses ``hidden_size``, ``batch_size``, ``lr``, ``max_norm`` and
        ``timing_repeats`` (after two warm-up steps).
    """
    rng = np.random.default_rng(seed)
    model = AddingModel(cell, s.hidden_size, rng)
    opt = Adam(model.params, lr=s.lr)
    x, y = adding_problem(s.batch_size, T, rng)
    times = []
    for _ in range(s.timing_repeats + 2):
        t0 = time.perf_counter()
        model.loss_and_grads(x, y)
        clip_grad_norm(model.grads, s.max_norm)
        opt.step(model.grads)
        times.append(time.perf_counter() - t0)
    return float(np.median(times[2:]))
