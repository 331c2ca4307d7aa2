"""The text a character model reads, and where it came from (``Corpus``, with its SHA-256).

Without a file, the text is the Python standard library's own source
(``stdlib_corpus``): the ``.py`` files under ``sysconfig.get_paths()["stdlib"]``
(site-packages excluded), sorted by path, read as UTF-8, concatenated up to
``max_chars`` characters. Every installation has it, so it works offline,
but it differs between Python versions: the SHA-256 of the text read is
recorded with the Python version, so that a number can be reproduced exactly.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Corpus", "stdlib_corpus", "file_corpus", "text_corpus", "DEFAULT_MAX_CHARS"]

#: Characters read from the default corpus (about 1 MB of Python source).
DEFAULT_MAX_CHARS = 1_000_000


@dataclass(frozen=True)
class Corpus:
    """A text and where it came from.

    Attributes
    ----------
    text : str
    source : str
        ``"the Python standard library"`` (its folder is left out, so that
        printed output carries no local paths; ``stdlib_corpus(root=...)``
        names the folder given), a file path, or ``"text"``.
    sha256 : str
        SHA-256 of ``text`` encoded as UTF-8: two runs read the same text iff it matches.
    files : int
        Files read (1 for a file, 0 for a given string).
    python : str
        The Python version that read it (the standard library differs between versions).
    """

    text: str
    source: str
    sha256: str
    files: int
    python: str = field(default_factory=platform.python_version)

    def describe(self):
        """One line: size, source, files, checksum and Python version."""
        return (f"{len(self.text):,} characters from {self.source} ({self.files} file(s)), "
                f"sha256 {self.sha256}, Python {self.python}")


def _sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_max_chars(max_chars):
    if max_chars is not None and (isinstance(max_chars, (bool, np.bool_)) or not isinstance(
            max_chars, (int, float, np.integer, np.floating))):
        raise TypeError(f"max_chars must be an integer >= 2 or None; got {type(max_chars).__name__} {max_chars!r}")
    if max_chars is not None and (not isinstance(max_chars, (int, np.integer)) or max_chars < 2):
        raise ValueError(f"max_chars must be an integer >= 2 or None; got {max_chars!r}")


def stdlib_corpus(max_chars=DEFAULT_MAX_CHARS, root=None):
    """The Python standard library's own source, as a corpus available offline.

    Parameters
    ----------
    max_chars : int or None
        Stop after this many characters (the last file is cut); None reads all.
    root : path, optional
        The folder to read; defaults to ``sysconfig.get_paths()["stdlib"]``.

    Returns
    -------
    Corpus
        The ``.py`` files under ``root`` (any depth, but not under
        ``site-packages`` or ``dist-packages``), sorted by their path
        relative to ``root``, each read as UTF-8 (undecodable bytes become
        U+FFFD) and followed by a newline.
    """
    _check_max_chars(max_chars)
    source = "the Python standard library" if root is None else f"Python files under {root}"
    root = Path(sysconfig.get_paths()["stdlib"] if root is None else root)
    if not root.is_dir():
        raise FileNotFoundError(f"the standard library folder {root} does not exist")
    parts, n, files = [], 0, 0
    for p in _py_files_in_path_order(root):
        if max_chars is not None and n >= max_chars:
            break
        text = p.read_bytes().decode("utf-8", errors="replace") + "\n"
        parts.append(text)
        n += len(text)
        files += 1
    text = "".join(parts)[:max_chars]
    if len(text) < 2:
        raise ValueError(f"found no Python source under {root}")
    return Corpus(text, source, _sha256(text), files)


def _py_files_in_path_order(folder):
    """The ``.py`` files under ``folder`` in the order of their sorted relative paths, lazily.

    Sorting a folder's entries by name, with "/" appended to folder names,
    gives the order of the full paths (``a.py`` < ``a/b.py``, as "." < "/"),
    so the walk can stop as soon as enough text has been read.
    """
    entries = sorted(os.scandir(folder), key=lambda e: e.name + ("/" if e.is_dir(follow_symlinks=False) else ""))
    for e in entries:
        if e.is_dir(follow_symlinks=False):
            if e.name not in ("site-packages", "dist-packages"):
                yield from _py_files_in_path_order(e.path)
        elif e.name.endswith(".py") and e.is_file():
            yield Path(e.path)


def file_corpus(path, max_chars=None):
    """The text of one UTF-8 file, cut to ``max_chars``.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        The file is not UTF-8 text (naming the first undecodable byte and its
        line: a model would otherwise learn replacement characters), or it
        has fewer than 2 characters.
    """
    _check_max_chars(max_chars)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or a path; got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"text file {str(path)!r} does not exist")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")[:max_chars]
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ValueError(f"text file {str(path)!r} is not UTF-8 text: byte {e.start} (line {line}) is "
                         f"{data[e.start:e.start + 1]!r}, {e.reason}; convert it first (for example "
                         "iconv -f latin1 -t utf-8)") from None
    if len(text) < 2:
        raise ValueError(f"text file {str(path)!r} has {len(text)} characters; need at least 2")
    return Corpus(text, str(path), _sha256(text), 1)


def text_corpus(text, max_chars=None):
    """A corpus from a string already in memory."""
    _check_max_chars(max_chars)
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    text = text[:max_chars]
    if len(text) < 2:
        raise ValueError(f"text has {len(text)} characters; need at least 2")
    return Corpus(text, "text", _sha256(text), 0)
