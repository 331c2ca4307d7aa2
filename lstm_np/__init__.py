"""lstm_np: a from-scratch NumPy LSTM with explicit backpropagation through time.

Modules, one idea each:

* ``lstm_np.cells``       the equations: one step of the LSTM, GRU and RNN, forward and backward
* ``lstm_np.sequence``    the fast path: ``LSTM``, ``GRU``, ``RNN`` over whole sequences
  (BPTT, masks, initial state, weight exchange); its kernels in ``sequence.fused``
* ``lstm_np.feedforward`` embedding and dense head
* ``lstm_np.losses``      masked MSE, softmax cross-entropy
* ``lstm_np.optim``       SGD with momentum, Adam, global-norm clipping
* ``lstm_np.gradcheck``   numerical gradients and the report
* ``lstm_np.io``          saved models (.npz + JSON, no pickle), run folders
* ``lstm_np.charlm``      a character-level language model (``lstm-np textgen``)
* ``lstm_np.studies``     the experiments behind the README's tables (``lstm-np compare``, ``lstm-np lab``)
* ``lstm_np.exercises``   the checker for the exercises of notebook 08
* ``lstm_np.data``      MovieLens-100K, the temporal split, synthetic data
* ``lstm_np.recommender``  the sequence recommender
"""

from .cells.lstm import sigmoid, step_backward, step_forward
from .feedforward import Dense, Embedding
from .gradcheck import check_gradients, numerical_gradient, relative_error
from .losses import masked_mse
from .optim import SGD, Adam, clip_grad_norm
from .sequence import GRU, LSTM, RNN

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
