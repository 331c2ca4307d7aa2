"""The recommender: baselines, matrix factorisation, and a recurrent correction of the base, under one protocol.

* ``baselines``  global mean and the regularised bias model; RMSE, MAE
* ``mf``         biased matrix factorisation, fitted by minibatch SGD
* ``hybrid``     a base plus an LSTM (GRU, RNN) that reads the user's history and corrects it
* ``protocol``   choose on validation, refit on train + validation, score test once
* ``pipeline``   the whole job, as run by ``lstm-np train``; saving and loading
"""

from .hybrid import SequenceConfig, TrainingError
from .mf import MatrixFactorization, fit_mf
from .pipeline import SequenceRecommender, load_model, run
from .protocol import run_protocol

__all__ = ["MatrixFactorization", "fit_mf", "SequenceConfig", "SequenceRecommender", "run_protocol", "TrainingError",
           "run", "load_model"]
