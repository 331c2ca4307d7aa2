"""The settings of the two studies: the sizes, seeds and budgets, the full setting and the quick one.

* ``Settings`` (``FULL``, ``QUICK``): RNN vs GRU vs LSTM (``studies.comparison``).
* ``LabSettings`` (``LAB_FULL``, ``LAB_QUICK``): the laboratory of cell variants (``studies.laboratory``).

``get_settings(quick)`` / ``get_lab_settings(quick)`` pick one; with
``quick=None`` they read the environment variable ``LSTM_NP_QUICK`` (the test
suite sets it to shorten the notebooks).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..cells.variants import VARIANTS
from ..sequence import GRU, LSTM, RNN

__all__ = ["CELLS", "Settings", "FULL", "QUICK", "get_settings",
           "LAB_VARIANTS", "LabSettings", "LAB_FULL", "LAB_QUICK", "get_lab_settings"]

#: The three cells compared, by display name.
CELLS = {"RNN": RNN, "GRU": GRU, "LSTM": LSTM}


@dataclass(frozen=True)
class Settings:
    """Sizes of every experiment (the same for the three cells).

    ``flow_length`` must be one of ``lengths``: the gradient-flow experiment
    uses the models trained at that length (first seed).
    """

    hidden_size: int = 32
    lengths: tuple = (10, 50, 100, 200)
    seeds: tuple = (0, 1, 2)
    steps: int = 1000          # Adam steps per run
    batch_size: int = 64
    lr: float = 1e-2
    max_norm: float = 1.0      # global gradient-norm clip
    n_test: int = 1000         # held-out sequences per length
    flow_length: int = 100
    timing_repeats: int = 20

    def __post_init__(self):
        if self.flow_length not in self.lengths:
            raise ValueError(f"flow_length={self.flow_length} must be one of lengths={self.lengths}")
        if min(self.lengths) < 2:
            raise ValueError(f"lengths must be >= 2 (two markers); got {self.lengths}")


#: The setting behind the README numbers.
FULL = Settings()
#: A small setting for tests and notebooks (well under 30 s on 2 cores).
QUICK = Settings(
    hidden_size=16, lengths=(10, 20), seeds=(0,), steps=400, batch_size=32,
    lr=1e-2, n_test=500, flow_length=20, timing_repeats=5,
)


def get_settings(quick=None):
    """``QUICK`` if ``quick`` (or, when ``quick`` is None, if the environment
    variable ``LSTM_NP_QUICK`` is set to anything but "" or "0"), else ``FULL``."""
    if quick is None:
        quick = os.environ.get("LSTM_NP_QUICK", "") not in ("", "0")
    return QUICK if quick else FULL



# =========================================================================== the laboratory
# Which parts of the cell matter: every variant of ``lstm_np.cells.variants``
# on the adding problem, a character-level language model and the MovieLens
# recommender, the same seeds and budgets for each.


#: The variants compared in the laboratory, in table order.
LAB_VARIANTS = tuple(VARIANTS)


@dataclass(frozen=True)
class LabSettings:
    """Sizes of the laboratory's three tasks (the same for every variant).

    The adding problem uses ``train_adding`` with ``adding_settings()``; the
    character model trains ``char_steps`` steps of truncated BPTT on the
    standard library's source and scores bits per character on the held-out
    last tenth; the recommender is ``lstm-np train``'s (an MF base + a
    correction net, the variant as its layer; ``train_recommender``) on
    ``rec_data``, its epoch count chosen on validation (at most
    ``rec_epochs``, patience ``rec_patience``), refitted on train +
    validation and scored on test (``rec_epochs = 0`` leaves it out).
    """

    variants: tuple = LAB_VARIANTS
    seeds: tuple = (0, 1, 2)
    # adding problem
    hidden_size: int = 32
    lengths: tuple = (25, 75)
    steps: int = 600
    batch_size: int = 32
    lr: float = 1e-2
    max_norm: float = 1.0
    n_test: int = 1000
    # character model (lstm_np.charlm)
    char_hidden: int = 64
    char_embed: int = 16
    char_steps: int = 1000
    char_batch: int = 32
    char_seq_len: int = 32
    char_lr: float = 1e-2
    char_chars: int = 300_000
    # recommender (lstm-np train's model: an MF base + a correction net with the variant as its layer)
    rec_data: str = "movielens"
    rec_epochs: int = 30  # SequenceConfig's defaults, as lstm-np train
    rec_patience: int = 5
    rec_hidden: int = 32
    rec_mf_grid: tuple = ()  # MF's search grid as (key, values) pairs; empty: mf.MF_GRID, as lstm-np train
    # time per step
    timing_repeats: int = 10

    def __post_init__(self):
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown:
            raise ValueError(f"variants {unknown} are not in {list(VARIANTS)}")
        if min(self.lengths) < 2:
            raise ValueError(f"lengths must be >= 2 (two markers); got {self.lengths}")

    def adding_settings(self):
        """The ``Settings`` that ``train_adding`` and ``time_per_step`` read."""
        return Settings(hidden_size=self.hidden_size, lengths=self.lengths, seeds=self.seeds, steps=self.steps,
                        batch_size=self.batch_size, lr=self.lr, max_norm=self.max_norm, n_test=self.n_test,
                        flow_length=self.lengths[-1], timing_repeats=self.timing_repeats)


#: The setting behind the README's laboratory table.
LAB_FULL = LabSettings()
#: A few seconds per variant: CI and the notebook's quick mode (synthetic recommender data).
LAB_QUICK = LabSettings(
    seeds=(0,), hidden_size=8, lengths=(8,), steps=60, batch_size=16, n_test=200,
    char_hidden=16, char_embed=8, char_steps=15, char_batch=8, char_seq_len=16, char_chars=8_000,
    rec_data="synthetic", rec_epochs=2, rec_patience=2, rec_hidden=8, rec_mf_grid=(("factors", (4,)), ("reg", (0.1,))),
    timing_repeats=2,
)


def get_lab_settings(quick=None):
    """``LAB_QUICK`` if ``quick`` (None: if ``LSTM_NP_QUICK`` is set, as ``get_settings``), else ``LAB_FULL``."""
    return LAB_QUICK if get_settings(quick) is QUICK else LAB_FULL
