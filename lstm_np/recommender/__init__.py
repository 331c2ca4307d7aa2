"""The sequence recommender: an LSTM that reads a user's ratings in time order
and predicts how the user will rate the next movies.

* ``sequences``  users' histories as padded batches; the information rule
* ``model``      embedding -> LSTM -> dense head, plus item and user biases
* ``baselines``  global mean and the regularised bias model; RMSE, MAE
* ``train``      minibatches, Adam, clipping, early stopping
* ``evaluate``   scoring a held-out part; recommendations
* ``pipeline``   the whole job, as run by ``lstm-np train``
"""

from .model import RatingModel
from .pipeline import load_model, run
from .train import TrainConfig, TrainingError

__all__ = ["RatingModel", "TrainConfig", "TrainingError", "run", "load_model"]
