"""The equations: one step of each recurrent cell, forward and backward.

* ``lstm_np.cells.lstm``  the LSTM step (and ``sigmoid``)
* ``lstm_np.cells.gru``   the GRU step
* ``lstm_np.cells.rnn``   the vanilla RNN step
* ``lstm_np.cells.variants``  the LSTM with a part removed or changed (peepholes, coupled gates, ...)
* ``lstm_np.cells.article``  the article's recurrence (no cell state), kept to show what it loses
* ``lstm_np.cells.slstm``   xLSTM's sLSTM step (exponential gates, stabiliser and normaliser states)
* ``lstm_np.cells.minrnn``  the minLSTM and minGRU steps (gates from the input only)

Each is written as its equations, one line per equation with the same
symbols, no buffers and no tricks: this is what the notebooks teach. The
sequence layers in ``lstm_np.sequence`` compute the same numbers faster and
are tested equal to these steps. These modules import NumPy only.
"""

from . import article, gru, lstm, minrnn, rnn, slstm, variants
from .lstm import sigmoid

__all__ = ["lstm", "gru", "rnn", "article", "variants", "slstm", "minrnn", "sigmoid"]
