"""Where MovieLens-100K comes from: the verified cache, else GroupLens, else the RecBole wheel on PyPI."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Sequence, Union

import numpy as np

from .raw import (EXPECTED_SHA256, RawFiles, _raw_from_zip, load_movielens_100k, read_recbole_wheel, verify,
                  write_grouplens)
from .ratings import ChecksumError, DataUnavailableError, Ratings

__all__ = ["GROUPLENS_URL", "RECBOLE_REQUIREMENT", "Source", "grouplens_source", "recbole_wheel_source",
           "default_sources", "default_cache_dir", "fetch_movielens_100k"]

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
RECBOLE_REQUIREMENT = "recbole==1.2.1"

CACHE_SUBDIR = "ml-100k"  # <cache>/ml-100k/{u.data,u.item,SHA256SUMS}
#: In the cache folder: sha256 of u.data and u.item as written (``sha256sum -c`` reads it).
CACHE_CHECKSUMS = "SHA256SUMS"
CACHE_FILES = ("u.data", "u.item")


@dataclass(frozen=True)
class Source:
    """A way to obtain the raw files: ``fetch()`` returns :class:`RawFiles`."""

    name: str
    fetch: Callable[[], RawFiles]


SourceLike = Union[Source, Callable[[], RawFiles]]


def grouplens_source(url: str = GROUPLENS_URL, timeout: float = 5.0) -> Source:
    """Download the official zip (into memory) and read ``ml-100k/u.data``/``u.item``.

    The timeout is short so an unreachable host fails fast.
    """
    def fetch() -> RawFiles:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            payload = response.read()
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            return _raw_from_zip(archive, PurePosixPath(url).name)

    return Source(f"GroupLens {url}", fetch)


def _pip_download(requirement: str, dest: Path, timeout: float) -> Path:
    """``pip download`` one wheel (no dependencies, never installed) into ``dest``."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               requirement, "-d", str(dest)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise RuntimeError(f"pip download exited with status {done.returncode}: {tail}")
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"pip download: expected one wheel in {dest}, found {[w.name for w in wheels]}")
    return wheels[0]


def recbole_wheel_source(requirement: str = RECBOLE_REQUIREMENT, timeout: float = 300.0,
                         download: Callable[[str, Path, float], Path] = _pip_download) -> Source:
    """Fetch the RecBole wheel from PyPI and read its ML-100K members.

    ``download(requirement, dest, timeout) -> wheel path`` defaults to
    ``pip download --no-deps --only-binary=:all:`` into a temporary folder
    (removed afterwards); RecBole is never installed or imported.
    """
    def fetch() -> RawFiles:
        with tempfile.TemporaryDirectory(prefix="lstm_np-wheel-") as tmp:
            return read_recbole_wheel(download(requirement, Path(tmp), timeout))

    return Source(f"PyPI wheel {requirement}", fetch)


def default_sources() -> list[Source]:
    """GroupLens first, then the RecBole wheel on PyPI."""
    return [grouplens_source(), recbole_wheel_source()]


def default_cache_dir() -> Path:
    """``$LSTM_NP_CACHE``, else ``$XDG_CACHE_HOME/lstm_np``, else ``~/.cache/lstm_np``."""
    explicit = os.environ.get("LSTM_NP_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "lstm_np"


def _log_to_stderr(message: str) -> None:
    print(f"lstm_np: {message}", file=sys.stderr)


def _as_source(source: object) -> Source:
    if isinstance(source, Source):
        return source
    if hasattr(source, "name") and callable(getattr(source, "fetch", None)):
        return Source(str(source.name), source.fetch)  # type: ignore[attr-defined]
    if callable(source):
        return Source(getattr(source, "__name__", repr(source)), source)  # type: ignore[arg-type]
    raise TypeError(f"sources: expected Source objects or callables, got {type(source).__name__}")


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _store(ratings: Ratings, cache_dir: Path, log: Callable[[str], None]) -> None:
    """Write ``cache_dir/ml-100k`` atomically: build it in a temporary folder
    inside ``cache_dir`` and rename it into place, so a failure at any point
    leaves no partial files. A cache that cannot be written is only logged:
    the caller already holds verified data.
    """
    target = cache_dir / CACHE_SUBDIR
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{CACHE_SUBDIR}-partial-", dir=cache_dir))
    except OSError as error:
        log(f"could not write cache {target}: {_reason(error)}")
        return
    old = cache_dir / f"{staging.name}-old"
    try:
        write_grouplens(ratings, staging / CACHE_SUBDIR)
        _write_cache_checksums(staging / CACHE_SUBDIR)
        if target.exists():  # an invalid copy: move it aside, then swap
            os.replace(target, old)
        os.replace(staging / CACHE_SUBDIR, target)
    except (OSError, ValueError) as error:
        if old.exists() and not target.exists():
            os.replace(old, target)  # put back what was there
        log(f"could not write cache {target}: {_reason(error)}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_cache_checksums(folder: Path) -> None:
    """Record the sha256 of each cached file in ``folder/SHA256SUMS`` (written atomically)."""
    text = "".join(f"{_file_sha256(folder / name)}  {name}\n" for name in CACHE_FILES)
    tmp = folder / f".{CACHE_CHECKSUMS}.tmp"
    tmp.write_text(text, encoding="ascii")
    os.replace(tmp, folder / CACHE_CHECKSUMS)


def _verify_cache_files(folder: Path) -> None:
    """Check the cached files against ``SHA256SUMS``; raise ChecksumError naming the file that changed
    since it was cached, or when ``SHA256SUMS`` is missing or incomplete.

    Without ``SHA256SUMS`` (deleted, or a cache of lstm_np <= 0.1) nothing vouches for ``u.item``: the data
    set's own checksum covers the ratings, not the titles, so an edited title would pass. Such a cache is
    not blessed with a new ``SHA256SUMS``; it is fetched again.
    """
    sums = folder / CACHE_CHECKSUMS
    if not sums.exists():
        raise ChecksumError(f"{sums} is missing, so {folder / 'u.item'} cannot be verified (the data set's checksum "
                            "covers the ratings, not the titles)")
    recorded = {}
    for line in sums.read_text(encoding="ascii", errors="replace").splitlines():
        digest, _, name = line.partition("  ")
        recorded[name] = digest
    for name in CACHE_FILES:
        if name not in recorded:
            raise ChecksumError(f"{sums} has no checksum for {name}")
        got = _file_sha256(folder / name)
        if got != recorded[name]:
            raise ChecksumError(f"{folder / name} changed since it was cached "
                                f"(sha256 {got}; {CACHE_CHECKSUMS} records {recorded[name]})")


def _check_titles(ratings: Ratings, folder: Path) -> None:
    """Every rated item must have a non-empty title (an emptied u.item would not)."""
    items = np.unique(ratings.item)
    missing = [int(i) for i in items if not ratings.titles.get(int(i), "").strip()]
    if missing:
        raise ChecksumError(f"{folder / 'u.item'} lacks the titles of {len(missing)} of the {len(items)} "
                            f"rated items (e.g. item {missing[0]})")


def _unavailable_message(failures: list[tuple[str, str]], target: Path) -> str:
    tried = "\n".join(f"  - {what}: {why}" for what, why in failures)
    return (f"MovieLens-100K is not available; tried, in order:\n{tried}\n"
            f"To use a copy you already have, either put u.data and u.item (GroupLens layout) "
            f"into {target}/, or call lstm_np.data.load_movielens_100k(path) with a folder "
            f"(u.data + u.item, or ml-100k.inter + ml-100k.item) or with ml-100k.zip.")


def fetch_movielens_100k(cache_dir: str | os.PathLike | None = None, *,
                         sources: Sequence[SourceLike] | None = None,
                         expected_sha256: str = EXPECTED_SHA256,
                         log: Callable[[str], None] | None = _log_to_stderr) -> Ratings:
    """MovieLens-100K, verified, from the cache or else from the first working source.

    Parameters
    ----------
    cache_dir : path-like, optional
        Defaults to :func:`default_cache_dir`; the data lives in ``cache_dir/ml-100k``
        as ``u.data`` + ``u.item`` (GroupLens layout) with their sha256 in
        ``SHA256SUMS``; a cached file that no longer matches its checksum (or a cache
        without ``SHA256SUMS``, whose u.item nothing vouches for, or
        a u.item lacking the title of a rated item) is ignored and fetched again.
    sources : sequence of Source or callables returning RawFiles, optional
        Tried in order; defaults to :func:`default_sources` (GroupLens, then
        the ``recbole==1.2.1`` wheel from PyPI).
    expected_sha256 : str
        Digest the data must have (see :func:`checksum`).
    log : callable, optional
        Receives one line saying where the data came from; None is silent.

    Returns
    -------
    Ratings
        100,000 rows for the real data set.

    Raises
    ------
    DataUnavailableError
        Listing every place tried and why it failed, and how to use a local copy.
    """
    log = log or (lambda message: None)
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = cache_dir / CACHE_SUBDIR
    failures: list[tuple[str, str]] = []
    if target.exists():
        try:
            ratings = load_movielens_100k(target, expected_sha256=expected_sha256)  # names a damaged line first
            _verify_cache_files(target)
            _check_titles(ratings, target)
        except (OSError, ValueError) as error:  # DataFormatError, ChecksumError included
            failures.append((f"cache {target}", _reason(error)))
            log(f"ignoring cache {target}: {_reason(error)}")
        else:
            log(f"MovieLens-100K from cache {target}")
            return ratings
    else:
        failures.append((f"cache {target}", "not present"))

    for source in map(_as_source, default_sources() if sources is None else sources):
        try:
            ratings = source.fetch().parse()
            verify(ratings, expected_sha256)
        except Exception as error:  # any failure means: try the next source
            failures.append((source.name, _reason(error)))
            log(f"{source.name} failed ({_reason(error)[:200]}); trying the next source")
            continue
        _store(ratings, cache_dir, log)
        log(f"MovieLens-100K from {source.name}; cached in {target}")
        return ratings
    raise DataUnavailableError(_unavailable_message(failures, target), failures)
