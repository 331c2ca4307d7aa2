"""Saving and loading named arrays as ``.npz`` plus a JSON description, without pickle.

A saved model is two files, ``path.npz`` (the arrays) and ``path.json``
(``meta`` plus, for every array, its shape and dtype, a random ``save_id``
and the SHA-256 of the ``.npz``), and they are one unit:

* ``save`` writes both to temporary files (``.NAME.npz.PID.RANDOM.tmp``)
  first, then renames the ``.npz`` and then the ``.json`` into place. The
  ``.npz`` also carries a copy of its own description (member
  ``__description__``), so a save killed between the two renames leaves a
  complete new ``.npz`` beside the previous save's ``.json``; ``load``
  recognises that pair (the ``.npz`` records, as ``previous_save_id``, the
  ``save_id`` of the ``.json`` it replaces) and returns the new model. An
  ``.npz`` of any other save (copied from another run) is refused, not
  loaded with its own description. Before the first rename nothing
  changed; after the second the new pair is in place. So a reader always
  sees the complete old or the complete new model, never a mix.
* Temporary files of a killed save are removed by the next ``save`` or
  ``load`` of the same name (those whose process is no longer running).

``load`` reads with ``allow_pickle=False`` and checks everything before it
reads any array data: the JSON (size, nesting depth, format, version), the
checksum, that the JSON says exactly what the save wrote (the ``.npz``'s
embedded description, which the checksum covers: any edit of ``model.json``,
even one its schema would accept, is refused naming the field), the archive's structure (a zip of ``.npy`` members) and each
member's header (shape and dtype, compared with the description and with
the member's size), and, when given a ``schema``, the ``meta`` fields
(types, finite numbers, ranges, sizes that must equal an array's
dimension). Every problem is a ``ModelFileError`` naming the file and field.

A training run's folder (model, metrics, figure) is written as a unit with
``run_folder``: the files go into a hidden sibling folder that replaces the
old folder in one atomic exchange. ``check_writable_dir`` says before a run
whether its output folder can be written at all.

Modules: ``model_file`` (save, inspect, load), ``schema`` (rules for
``meta``), ``runs`` (run folders), ``atomic`` (files written whole),
``errors`` (``ModelFileError``). Every public name is importable from
``lstm_np.io``.
"""

from .atomic import atomic_write_bytes
from .errors import ModelFileError
from .model_file import (DESCRIPTION_MEMBER, FORMAT, MAX_JSON_BYTES, MAX_JSON_DEPTH, READS, VERSION,  # noqa: F401
                         _npz_bytes, inspect, inspect_model, load, save)
from .runs import check_writable_dir, run_folder
from .schema import Any, Bool, Float, Int, Str, check_meta

__all__ = [
    "ModelFileError", "save", "load", "inspect", "inspect_model", "atomic_write_bytes",
    "Int", "Float", "Str", "Bool", "Any", "check_meta",
    "run_folder", "check_writable_dir",
]
