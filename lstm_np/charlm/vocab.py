"""Characters <-> integer ids (``Vocab``), and the split into training and held-out text."""

from __future__ import annotations

import numpy as np

from .._checks import as_array, as_ids

__all__ = ["Vocab", "split_held_out", "UNKNOWN"]

# The replacement character stands for characters outside a capped vocabulary.
UNKNOWN = "\ufffd"


class Vocab:
    """Characters <-> integer ids.

    Parameters
    ----------
    chars : str
        The characters, each once; id k is ``chars[k]``. If it contains
        ``UNKNOWN`` (U+FFFD), characters not in ``chars`` encode to it;
        otherwise they are an error.
    """

    def __init__(self, chars):
        if not isinstance(chars, str):
            raise TypeError(f"chars must be a string of distinct characters; got {type(chars).__name__}")
        if len(set(chars)) != len(chars) or not chars:
            raise ValueError("chars must be a non-empty string of distinct characters")
        self.chars = chars
        self.index = {ch: k for k, ch in enumerate(chars)}

    @classmethod
    def from_text(cls, text, max_size=None):
        """The characters of ``text``, sorted by code point.

        With ``max_size``, only the ``max_size - 1`` most frequent are kept
        (ties broken by code point) and the rest share the id of U+FFFD.
        """
        counts = {}
        for ch in text:
            counts[ch] = counts.get(ch, 0) + 1
        if max_size is not None and len(counts) > max_size:
            if max_size < 2:
                raise ValueError(f"max_size must be >= 2; got {max_size}")
            keep = sorted(counts, key=lambda ch: (-counts[ch], ch))[: max_size - 1]
            return cls("".join(sorted(set(keep) | {UNKNOWN})))
        return cls("".join(sorted(counts)))

    def __len__(self):
        return len(self.chars)

    def encode(self, text):
        """str -> (n,) int64 ids."""
        unk = self.index.get(UNKNOWN)
        try:
            return np.array([self.index[ch] if unk is None else self.index.get(ch, unk) for ch in text],
                            dtype=np.int64)
        except KeyError as e:
            raise ValueError(f"character {e.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids):
        """ids (any shape, integers in [0, V)) -> str, in C order.

        Raises TypeError for ids that are not integers (floats, strings, None)
        and ValueError for an id outside [0, V): -1 is not "the last character".
        """
        if as_array("ids", ids).size == 0:  # [] is float64 to NumPy, and decodes to ""
            return ""
        ids = as_ids("ids", ids, len(self.chars))
        return "".join(self.chars[k] for k in ids.reshape(-1).tolist())


def split_held_out(ids, fraction=0.1):
    """The first part of ``ids`` for training and the last ``fraction`` held out (at least 2 each)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"held_out must be in (0, 1); got {fraction!r}")
    n_held = int(round(len(ids) * fraction))
    if n_held < 2 or len(ids) - n_held < 2:
        raise ValueError(f"the text has {len(ids)} characters: too short to hold out {fraction:.0%} "
                         "and still train (need at least 2 in each part)")
    return ids[:-n_held], ids[-n_held:]
