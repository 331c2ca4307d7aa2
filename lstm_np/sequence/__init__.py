"""The fast path: the recurrent layers over whole sequences.

* ``lstm_np.sequence.lstm``   ``LSTM``: BPTT, masks, initial state, ``reuse``, weight exchange
* ``lstm_np.sequence.gru``    ``GRU``, the same interface without a cell state
* ``lstm_np.sequence.rnn``    ``RNN``, likewise
* ``lstm_np.sequence.variants``  ``VariantLSTM``: the cell variants of ``cells.variants`` over sequences (reference path)
* ``lstm_np.sequence.slstm``  ``SLSTM``: xLSTM's sLSTM, state ``SLSTMState(h, c, n, m)``
* ``lstm_np.sequence.minrnn`` ``MinLSTM``, ``MinGRU``: the log-space parallel scan beside the step loop
* ``lstm_np.sequence.stack``  ``Stack``: layers one after another, dropout between them, PyTorch ``num_layers`` exchange
* ``lstm_np.sequence.fused``  the element-wise kernels they use, each trick explained there
* ``lstm_np.sequence._base``  what the three layers share (sizes, params/grads, exchange readers)

The three are built the same way: one GEMM for the input projections of all
steps, one recurrent GEMM per step, one GEMM per chunk for the weight
gradients. They compute what the reference steps of ``lstm_np.cells``
compute (tested to 1e-12 in float64).
"""

from .gru import GRU
from .lstm import LSTM
from .minrnn import MinGRU, MinLSTM
from .rnn import RNN
from .slstm import SLSTM
from .stack import Stack
from .variants import VariantLSTM

__all__ = ["LSTM", "GRU", "RNN", "Stack", "VariantLSTM", "SLSTM", "MinLSTM", "MinGRU"]
