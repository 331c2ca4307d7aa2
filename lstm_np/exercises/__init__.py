"""Exercises: write the LSTM and GRU steps yourself, and have them checked.

Notebook ``notebooks/08_exercises.ipynb`` asks for five functions, with the
signatures of the reference steps in ``lstm_np.cells``:

===========================  =====================================================
your function                checked by
===========================  =====================================================
``lstm_step_forward``        ``check_lstm_forward(fn)``: ``fn(x, h_prev, c_prev,
                             Wx, Wh, b) -> h, c, cache``
``lstm_step_backward``       ``check_lstm_backward(fn)``: ``fn(dh, dc_next,
                             cache) -> dx, dh_prev, dc_prev, grads``
``gru_step_forward``         ``check_gru_forward(fn)``: ``fn(x, h_prev, Wx, Wh,
                             bx, bh) -> h, cache``
``gru_step_backward``        ``check_gru_backward(fn)``: ``fn(dh, cache) -> dx,
                             dh_prev, grads``
``lstm_forward_sequence``,   ``check_lstm_sequence(forward, backward)``: BPTT
``lstm_backward_sequence``   over a sequence with your step, against
                             ``LSTM.forward`` and ``LSTM.backward``
===========================  =====================================================

Each check calls your function on a small fixed input (``fixed_inputs``, numbers
you can follow by hand) and on random float64 inputs of batch sizes 1 to 4, and
(for the backward steps) compares with central differences. It prints a report
that says, part by part, what is right and what is wrong, and returns a
``CheckResult``. ``hint(exercise, level)`` prints a hint, from where to start
to every line, only when asked.

The modules, one job each:

* ``inputs``      the fixed and random inputs (``fixed_inputs``, ``probes``)
* ``readers``     reading what your function returned, part by part
* ``equations``   the reference steps as named lines, so that a mistake can replace one
* ``mistakes``    the classes of mistakes, generated (gate orders, nonlinearities,
  derivatives, transposes, reduction axes, concatenation orders)
* ``catalogue``   each step's mistakes: the generated classes and a table of one-off rows
* ``diagnosis``   right or wrong, part by part, in dependency order, and why
* ``errors``      an exception of your code in words (operand shapes and a question)
* ``report``      the report's words
* ``checks``      the four step checks; ``sequence`` the fifth (BPTT)
* ``hints``       the formulas and the hints
* ``stubs``       the stub version of the notebook (``python -m lstm_np.exercises --stubs``)

How the report knows *what* is wrong: it reads every part it can (each gate's
dz from ``grads["b"]`` where B = 1, and from ``grads["Wx"] = x^T dz`` where
B > 1), and judges each part on your values of the parts it is computed from.
A part right for your inputs is wrong only because of them; otherwise the
catalogue's mistakes (``catalogue.MISTAKES``), one or two at a time, are tried
on every batch size, and the one that gives your numbers is named.

The notebook comes with the solutions filled in (cells tagged ``solution``,
the body below a ``# SOLUTION`` line). To get the version to fill in::

    python -m lstm_np.exercises --stubs notebooks/08_exercises.ipynb my_exercises.ipynb

which replaces each solution body with ``raise NotImplementedError``.
"""

from .checks import (  # noqa: F401 - check and EXERCISE_SPECS for the tests
    EXERCISE_SPECS,
    CheckResult,
    check,
    check_gru_backward,
    check_gru_forward,
    check_lstm_backward,
    check_lstm_forward,
)
from .hints import hint
from .inputs import TOLERANCE, fixed_inputs
from .sequence import check_lstm_sequence
from .stubs import SOLUTION_MARKER, SOLUTION_TAG, main, make_stubs, write_stub_notebook

__all__ = [
    "TOLERANCE",
    "CheckResult",
    "check_lstm_forward",
    "check_lstm_backward",
    "check_gru_forward",
    "check_gru_backward",
    "check_lstm_sequence",
    "fixed_inputs",
    "hint",
    "make_stubs",
    "write_stub_notebook",
    "main",
    "SOLUTION_TAG",
    "SOLUTION_MARKER",
]
