"""Data for lstm_np: MovieLens-100K, a temporal split and a synthetic set.

This subpackage knows nothing about the LSTM; it depends only on numpy and
the standard library.

* :func:`fetch_movielens_100k` -- verified MovieLens-100K from the cache
  (``default_cache_dir()/ml-100k``), else from GroupLens, else from the
  ``recbole==1.2.1`` wheel on PyPI; :func:`load_movielens_100k` reads a local
  copy (folder in GroupLens or atomic layout, or ``ml-100k.zip``).
* :func:`temporal_split` -- per-user last 10% test, 10% before validation.
* :func:`make_synthetic` -- small offline data whose ratings depend on the
  order of earlier items.

All of them return or take :class:`Ratings`, plain int64/float64 arrays of
shape (N,).
"""

from .movielens import (
    EXPECTED_SHA256,
    GROUPLENS_URL,
    RECBOLE_REQUIREMENT,
    ChecksumError,
    DataFormatError,
    DataUnavailableError,
    RawFiles,
    Ratings,
    Source,
    checksum,
    default_cache_dir,
    default_sources,
    fetch_movielens_100k,
    grouplens_source,
    load_movielens_100k,
    parse_atomic,
    parse_grouplens,
    read_atomic,
    read_grouplens,
    read_raw,
    read_recbole_wheel,
    recbole_wheel_source,
    verify,
    write_grouplens,
)
from .split import TEST, TRAIN, VAL, Split, temporal_split
from .synthetic import make_synthetic, synthetic_groups

__all__ = [
    "EXPECTED_SHA256",
    "GROUPLENS_URL",
    "RECBOLE_REQUIREMENT",
    "ChecksumError",
    "DataFormatError",
    "DataUnavailableError",
    "RawFiles",
    "Ratings",
    "Source",
    "Split",
    "TEST",
    "TRAIN",
    "VAL",
    "checksum",
    "default_cache_dir",
    "default_sources",
    "fetch_movielens_100k",
    "grouplens_source",
    "load_movielens_100k",
    "make_synthetic",
    "parse_atomic",
    "parse_grouplens",
    "read_atomic",
    "read_grouplens",
    "read_raw",
    "read_recbole_wheel",
    "recbole_wheel_source",
    "synthetic_groups",
    "temporal_split",
    "verify",
    "write_grouplens",
]
