"""lstm_np: a from-scratch NumPy LSTM with explicit backpropagation through time.

Modules, one idea each:

* ``lstm_np.cell``      one LSTM step, forward and backward
* ``lstm_np.layer``     the LSTM over a sequence (BPTT, masks, initial state, weight exchange)
* ``lstm_np.layers``    embedding, dense head, masked MSE loss
* ``lstm_np.optim``     SGD with momentum, Adam, global-norm clipping
* ``lstm_np.gradcheck`` numerical gradients and the report
* ``lstm_np.rnn``, ``lstm_np.gru``  the vanilla RNN and the GRU, same interface
* ``lstm_np.data``      MovieLens-100K, the temporal split, synthetic data
* ``lstm_np.recommender``  the sequence recommender
"""

from .cell import sigmoid, step_backward, step_forward
from .gradcheck import check_gradients, numerical_gradient, relative_error
from .gru import GRU
from .layer import LSTM
from .layers import Dense, Embedding, masked_mse
from .optim import SGD, Adam, clip_grad_norm
from .rnn import RNN

__version__ = "0.1.0"

__all__ = [
    "LSTM",
    "GRU",
    "RNN",
    "Embedding",
    "Dense",
    "masked_mse",
    "SGD",
    "Adam",
    "clip_grad_norm",
    "sigmoid",
    "step_forward",
    "step_backward",
    "numerical_gradient",
    "relative_error",
    "check_gradients",
]
