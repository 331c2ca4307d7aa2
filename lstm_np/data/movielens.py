"""MovieLens-100K: parsing, verification, caching and download.

Two on-disk layouts hold the same 100,000 ratings:

* the GroupLens layout (``u.data``: ``user<TAB>item<TAB>rating<TAB>timestamp``;
  ``u.item``: ``id|title|...``, latin-1), as in the official ``ml-100k.zip``;
* the "atomic" layout used by RecBole (``ml-100k.inter`` / ``ml-100k.item``,
  tab-separated, UTF-8, with a typed header such as ``user_id:token``).

Every reader (folder, zip member, downloaded bytes) ends in one of the two
byte-level parsers :func:`parse_grouplens` and :func:`parse_atomic`, so all of
them validate the data the same way and report errors as ``<file> line <n>: ...``.

:func:`fetch_movielens_100k` returns the verified data set: from the cache if a
verified copy is there, otherwise from the first source that works (GroupLens,
then the ``recbole==1.2.1`` wheel on PyPI, which ships the same ratings), and
stores it in the cache in the GroupLens layout.

Modules: ``ratings`` (the ``Ratings`` table and the errors), ``parsing``
(the two byte-level parsers), ``raw`` (files in either layout, the
checksum), ``cache`` (sources, the cache, ``fetch_movielens_100k``). This
module gathers their public names.
"""

# Every name of the former single module, including constants that tests and callers read.
from .cache import (CACHE_CHECKSUMS, CACHE_FILES, CACHE_SUBDIR, GROUPLENS_URL,  # noqa: F401
                    RECBOLE_REQUIREMENT, Source, default_cache_dir, default_sources, fetch_movielens_100k,
                    grouplens_source, recbole_wheel_source)
from .parsing import parse_atomic, parse_grouplens
from .ratings import ChecksumError, DataFormatError, DataUnavailableError, Ratings
from .raw import (EXPECTED_SHA256, RECBOLE_INTER_MEMBER, RECBOLE_ITEM_MEMBER, RawFiles, checksum,  # noqa: F401
                  load_movielens_100k, read_atomic, read_grouplens, read_raw, read_recbole_wheel, verify,
                  write_grouplens)

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
    "checksum",
    "default_cache_dir",
    "default_sources",
    "fetch_movielens_100k",
    "grouplens_source",
    "load_movielens_100k",
    "parse_atomic",
    "parse_grouplens",
    "read_atomic",
    "read_grouplens",
    "read_raw",
    "read_recbole_wheel",
    "recbole_wheel_source",
    "verify",
    "write_grouplens",
]
