"""Studies: experiments built from the package, each the source of a table in the README and a notebook.

One module per study, and small shared modules:

* ``studies.comparison``  RNN vs GRU vs LSTM: the adding problem, gradient flow, cost (``lstm-np compare``;
  notebook 05)
* ``studies.laboratory``  which parts of the cell matter: every cell variant on the adding problem, the
  character model and the recommender (``lstm-np lab``; notebook 07)
* ``studies.modern_cells``  the 2024 cells (sLSTM, minLSTM, minGRU) beside the LSTM: parity, selective copying,
  the adding problem, the character model (``python -m lstm_np.studies.modern_cells``; notebook 10)
* ``studies.adding``      the adding problem, the model that learns it, the time of a training step
* ``studies.settings``    the sizes of each study: the full setting behind the README and a quick one
* ``studies.report``      the Markdown tables;  ``studies.plots``  the figures
* ``studies.workers``     training jobs in this process or in worker processes

The public names of the comparison and the laboratory are importable from here
(``from lstm_np.studies import run, run_lab``), as they were from the former
``lstm_np.experiments`` (still a thin alias).
"""

from .adding import AddingModel, adding_problem, time_per_step, train_adding
from .comparison import gradient_flow, load_results, run
from .laboratory import load_lab, run_lab, train_char, train_recommender
from . import modern_cells  # noqa: F401  (its names stay in its namespace: modern_cells.run, ...)
from .plots import plot_adding, plot_gradient_flow, plot_lab
from .report import format_lab, format_results
from .settings import (CELLS, FULL, LAB_FULL, LAB_QUICK, LAB_VARIANTS, QUICK, LabSettings, Settings, get_lab_settings,
                       get_settings)

__all__ = [
    "CELLS", "Settings", "FULL", "QUICK", "get_settings",
    "adding_problem", "AddingModel", "train_adding", "gradient_flow", "time_per_step",
    "run", "load_results", "format_results", "plot_adding", "plot_gradient_flow",
    "LAB_VARIANTS", "LabSettings", "LAB_FULL", "LAB_QUICK", "get_lab_settings",
    "train_char", "train_recommender", "run_lab", "format_lab", "plot_lab", "load_lab",
]
