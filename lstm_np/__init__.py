"""lstm_np: a from-scratch NumPy LSTM with explicit backpropagation through time.

Modules, one idea each:

* ``lstm_np.cell``      one LSTM step, forward and backward
* ``lstm_np.layer``     the LSTM over a sequence (BPTT, masks, initial state, weight exchange)
* ``lstm_np.layers``    embedding, dense head, masked MSE loss
* ``lstm_np.optim``     SGD with momentum, Adam, global-norm clipping
* ``lstm_np.gradcheck`` numerical gradients and the report
"""

from .cell import sigmoid, step_backward, step_forward
from .gradcheck import check_gradients, numerical_gradient, relative_error
from .layer import LSTM
from .layers import Dense, Embedding, masked_mse
from .optim import SGD, Adam, clip_grad_norm

__version__ = "0.1.0"

__all__ = [
    "LSTM",
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
