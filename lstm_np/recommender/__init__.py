"""The recommenders: next-item recommendation and rating prediction on MovieLens-100K, each under one protocol.

Next-item (what will the user watch next?):

* ``ranking``             HR/NDCG/MRR@K over all items, ties broken against the model; top-N list metrics
* ``ranking_baselines``   popularity, item-kNN, first-order transitions, BPR-MF, EASE
* ``nextitem``            the LSTM next-item model (embedding -> recurrent layer -> softmax over items), training
* ``nextitem_protocol``   leave-one-out: choose on validation, refit on train + validation, score test once
* ``nextitem_model``      a saved next-item model: recommend from raw ids, no data set needed
* ``nextitem_pipeline``   the whole job, as run by ``lstm-np train --task next-item``

Rating prediction (what would the user rate this movie?):

* ``baselines``  global mean and the regularised bias model; RMSE, MAE
* ``mf``         biased matrix factorisation, fitted by minibatch SGD
* ``hybrid``     a base plus an LSTM (GRU, RNN) that reads the user's history and corrects it
* ``protocol``   choose on validation, refit on train + validation, score test once
* ``pipeline``   the whole job, as run by ``lstm-np train``; saving and loading
"""

from .hybrid import SequenceConfig, TrainingError
from .mf import MatrixFactorization, fit_mf
from .nextitem import NextItemConfig, NextItemNet, train_next_item
from .nextitem_model import NextItemRecommender
from .nextitem_pipeline import run_next_item
from .pipeline import SequenceRecommender, load_model, run
from .protocol import run_protocol

__all__ = ["MatrixFactorization", "fit_mf", "SequenceConfig", "SequenceRecommender", "run_protocol", "TrainingError",
           "run", "load_model", "NextItemConfig", "NextItemNet", "train_next_item", "NextItemRecommender",
           "run_next_item"]
