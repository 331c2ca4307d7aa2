"""The equations: one step of each recurrent cell, forward and backward.

* ``lstm_np.cells.lstm``  the LSTM step (and ``sigmoid``)
* ``lstm_np.cells.gru``   the GRU step
* ``lstm_np.cells.rnn``   the vanilla RNN step
* ``lstm_np.cells.variants``  the LSTM with a part removed or changed (peepholes, coupled gates, ...)
* ``lstm_np.cells.article``  the article's recurrence (no cell state), kept to show what it loses

Each is written as its equations, one line per equation with the same
symbols, no buffers and no tricks: this is what the notebooks teach. The
sequence layers in ``lstm_np.sequence`` compute the same numbers faster and
are tested equal to these steps. These modules import NumPy only.
"""

from . import article, gru, lstm, rnn, variants
from .lstm import sigmoid

__all__ = ["lstm", "gru", "rnn", "article", "variants", "sigmoid"]
