"""MovieLens loading, verification, caching and fallback -- all offline."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lstm_np.data import (
    EXPECTED_SHA256,
    ChecksumError,
    DataFormatError,
    DataUnavailableError,
    RawFiles,
    Ratings,
    Source,
    checksum,
    default_cache_dir,
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
    temporal_split,
    verify,
    write_grouplens,
)
from lstm_np.data import cache as data_cache
from lstm_np.data import movielens

# (user, item, rating, timestamp) -- the small data set used throughout.
ROWS = [(1, 10, 4, 100), (1, 9, 3, 100), (2, 10, 5, 200), (2, 3, 1, 150), (3, 9, 2, 300)]
TITLES = {3: "Misérables, Les (1995)", 9: "Nine (1990)", 10: "Ten (1991)"}


def grouplens_bytes() -> tuple[bytes, bytes]:
    data = "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in ROWS).encode()
    # u.item carries more fields after the title, as the real file does.
    items = "".join(f"{i}|{title}|01-Jan-1995||http://x|0|1\n" for i, title in TITLES.items())
    return data, items.encode("latin-1")


def atomic_bytes() -> tuple[bytes, bytes]:
    # Ratings and timestamps written as floats, as the RecBole files declare them;
    # the item file has an extra column before the title.
    inter = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n" + "".join(
        f"{u}\t{i}\t{float(r)}\t{float(t)}\n" for u, i, r, t in ROWS)
    items = "item_id:token\trelease_year:token\tmovie_title:token_seq\n" + "".join(
        f"{i}\t1995\t{title}\n" for i, title in TITLES.items())
    return inter.encode(), items.encode("utf-8")


def write_folder(folder: Path, layout: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if layout == "grouplens":
        data, items = grouplens_bytes()
        (folder / "u.data").write_bytes(data)
        (folder / "u.item").write_bytes(items)
    else:
        inter, items = atomic_bytes()
        (folder / "ml-100k.inter").write_bytes(inter)
        (folder / "ml-100k.item").write_bytes(items)
    return folder


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return path


def grouplens_zip(path: Path) -> Path:
    data, items = grouplens_bytes()
    return write_zip(path, {"ml-100k/README": b"readme", "ml-100k/u.data": data, "ml-100k/u.item": items})


def recbole_wheel(path: Path) -> Path:
    inter, items = atomic_bytes()
    return write_zip(path, {"recbole/__init__.py": b"", movielens.RECBOLE_INTER_MEMBER: inter,
                            movielens.RECBOLE_ITEM_MEMBER: items})


def assert_small_data(ratings: Ratings) -> None:
    table = np.array(ROWS)
    np.testing.assert_array_equal(ratings.user, table[:, 0])
    np.testing.assert_array_equal(ratings.item, table[:, 1])
    np.testing.assert_array_equal(ratings.rating, table[:, 2].astype(float))
    np.testing.assert_array_equal(ratings.timestamp, table[:, 3])
    assert [a.dtype for a in (ratings.user, ratings.item, ratings.rating, ratings.timestamp)] == \
        [np.int64, np.int64, np.float64, np.int64]
    assert all(ratings.titles[i].startswith(TITLES[i].split(" (")[0]) for i in TITLES)


SMALL_SHA = checksum(parse_grouplens(*grouplens_bytes()))


# ---------------------------------------------------------------- parsing

def test_read_grouplens_folder(tmp_path):
    ratings = read_grouplens(write_folder(tmp_path, "grouplens"))
    assert_small_data(ratings)
    assert ratings.titles == TITLES  # latin-1 "é" decoded
    assert len(ratings) == 5


def test_read_atomic_matches_grouplens(tmp_path):
    folder = write_folder(tmp_path, "atomic")
    atomic = read_atomic(folder / "ml-100k.inter", folder / "ml-100k.item")
    assert_small_data(atomic)
    assert atomic.titles == TITLES
    assert checksum(atomic) == SMALL_SHA


def test_bytes_and_folder_readers_agree(tmp_path):
    from_bytes = parse_atomic(*atomic_bytes())
    from_file = read_atomic(*(write_folder(tmp_path, "atomic") / n for n in ("ml-100k.inter", "ml-100k.item")))
    for name in ("user", "item", "rating", "timestamp"):
        np.testing.assert_array_equal(getattr(from_bytes, name), getattr(from_file, name))


@pytest.mark.parametrize("make", [
    lambda d: write_folder(d / "gl", "grouplens"),
    lambda d: write_folder(d / "at", "atomic"),
    lambda d: write_folder(d / "parent" / "ml-100k", "grouplens").parent,  # one level down
    lambda d: grouplens_zip(d / "ml-100k.zip"),
    lambda d: recbole_wheel(d / "recbole-1.2.1-py3-none-any.whl"),
], ids=["grouplens-folder", "atomic-folder", "parent-folder", "grouplens-zip", "wheel"])
def test_load_any_layout(tmp_path, make):
    ratings = load_movielens_100k(make(tmp_path), expected_sha256=SMALL_SHA)
    assert_small_data(ratings)


def test_read_raw_names_zip_members(tmp_path):
    raw = read_raw(grouplens_zip(tmp_path / "ml-100k.zip"))
    assert raw.layout == "grouplens"
    assert raw.ratings_name.endswith("ml-100k.zip:ml-100k/u.data")
    assert raw.items_name.endswith("ml-100k.zip:ml-100k/u.item")


def test_read_raw_without_data_files(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="neither u.data"):
        read_raw(tmp_path)


def test_read_recbole_wheel_members(tmp_path):
    raw = read_recbole_wheel(recbole_wheel(tmp_path / "recbole-1.2.1-py3-none-any.whl"))
    assert raw.layout == "atomic"
    assert raw.ratings_name == f"recbole-1.2.1-py3-none-any.whl:{movielens.RECBOLE_INTER_MEMBER}"
    assert_small_data(raw.parse())


def replace_line(data: bytes, line_no: int, text: str) -> bytes:
    lines = data.decode("latin-1").split("\n")
    lines[line_no - 1] = text
    return "\n".join(lines).encode("latin-1")


@pytest.mark.parametrize("line, message", [
    ("1\t10\t4", "u.data line 2: expected 4 tab-separated fields, got 3"),
    ("", "u.data line 2: empty line, expected 4 tab-separated fields"),
    ("1\tten\t4\t100", "u.data line 2: item id 'ten' is not an integer"),
    ("0\t10\t4\t100", "u.data line 2: user id must be a positive integer, got 0"),
    ("1\t10\tfour\t100", "u.data line 2: rating 'four' is not a number"),
    ("1\t10\t6\t100", "u.data line 2: rating must be a finite number in [1, 5], got 6.0"),
    ("1\t10\tnan\t100", "u.data line 2: rating must be a finite number in [1, 5], got nan"),
    ("1\t10\t4\t100.5", "u.data line 2: timestamp must be a whole number of seconds, got 100.5"),
])
def test_grouplens_data_errors_name_file_and_line(tmp_path, line, message):
    data, items = grouplens_bytes()
    (tmp_path / "u.data").write_bytes(replace_line(data, 2, line))
    (tmp_path / "u.item").write_bytes(items)
    with pytest.raises(DataFormatError) as error:
        read_grouplens(tmp_path)
    assert str(error.value) == f"{tmp_path / 'u.data'} line" + message.split("u.data line", 1)[1]


def test_grouplens_item_errors():
    data, items = grouplens_bytes()
    with pytest.raises(DataFormatError, match=r"^u\.item line 3: expected at least 2 '\|'-separated fields, got 1$"):
        parse_grouplens(data, replace_line(items, 3, "10 Ten"))
    with pytest.raises(DataFormatError, match=r"^u\.item line 3: item id 9 appears twice$"):
        parse_grouplens(data, replace_line(items, 3, "9|Again"))


@pytest.mark.parametrize("data", [b"", b"\n", b"  \n\n"])
def test_a_ratings_file_without_ratings_is_refused(data):
    _, items = grouplens_bytes()
    with pytest.raises(DataFormatError, match=r"^u\.data: holds no ratings \((empty|blank)\)"):
        parse_grouplens(data, items)
    inter, atomic_items = atomic_bytes()
    header = inter.split(b"\n", 1)[0] + b"\n"
    with pytest.raises(DataFormatError, match=r"^ml-100k\.inter: holds no ratings .*after the header"):
        parse_atomic(header + data, atomic_items)


def test_atomic_errors_count_the_header_line():
    inter, items = atomic_bytes()
    with pytest.raises(DataFormatError, match=r"^ml-100k\.inter line 3: expected 4 tab-separated fields, got 5$"):
        parse_atomic(replace_line(inter, 3, "1\t9\t3\t100\textra"), items)
    with pytest.raises(DataFormatError, match=r"^ml-100k\.inter line 1: header has no 'rating' column"):
        parse_atomic(replace_line(inter, 1, "user_id:token\titem_id:token\tscore:float\ttimestamp:float"), items)
    with pytest.raises(DataFormatError, match=r"^ml-100k\.item line 1: header has no 'movie_title' or 'title'"):
        parse_atomic(inter, replace_line(items, 1, "item_id:token\tyear:token\tname:token_seq"))
    with pytest.raises(DataFormatError, match=r"^ml-100k\.inter line 2: not valid utf-8 text"):
        parse_atomic(replace_line(inter, 2, "1\t10\t4.0\t100.0\xe9"), items)


def test_ratings_validates_arrays():
    good = dict(user=np.array([1]), item=np.array([2]), rating=np.array([3.0]), timestamp=np.array([4]))
    assert len(Ratings(**good)) == 1
    with pytest.raises(TypeError, match=r"Ratings\.rating: expected dtype float64, got int64"):
        Ratings(**{**good, "rating": np.array([3])})
    with pytest.raises(ValueError, match="equal lengths"):
        Ratings(**{**good, "item": np.array([2, 3])})
    with pytest.raises(ValueError, match=r"Ratings\.user: expected a 1-D array, got shape \(1, 1\)"):
        Ratings(**{**good, "user": np.array([[1]])})


def test_write_grouplens_round_trip(tmp_path):
    ratings = parse_atomic(*atomic_bytes())
    back = read_grouplens(write_grouplens(ratings, tmp_path / "out"))
    assert_small_data(back)
    assert back.titles == ratings.titles
    assert (tmp_path / "out" / "u.data").read_text().splitlines()[0] == "1\t10\t4\t100"


# ---------------------------------------------------------------- checksum

def test_checksum_definition_and_order_independence():
    ratings = parse_grouplens(*grouplens_bytes())
    by_user_item = np.array(sorted(ROWS), dtype="<i8")  # rows sorted by (user, item)
    assert checksum(ratings) == hashlib.sha256(by_user_item.tobytes()).hexdigest()
    shuffled = ratings.take(np.array([4, 2, 0, 3, 1]))
    assert checksum(shuffled) == checksum(ratings)
    changed = Ratings(ratings.user, ratings.item, ratings.rating + (np.arange(5) == 0), ratings.timestamp)
    assert checksum(changed) != checksum(ratings)


def test_checksum_needs_whole_ratings():
    r = Ratings(np.array([1]), np.array([1]), np.array([3.5]), np.array([0]))
    with pytest.raises(ValueError, match="whole numbers"):
        checksum(r)


def test_verify_reports_expected_got_and_counts():
    ratings = parse_grouplens(*grouplens_bytes())
    assert verify(ratings, SMALL_SHA) == SMALL_SHA
    with pytest.raises(ChecksumError) as error:
        verify(ratings)
    message = str(error.value)
    assert f"expected sha256 {EXPECTED_SHA256}, got {SMALL_SHA}" in message
    assert "5 ratings, 3 users, 3 items" in message
    assert "MovieLens-100K has 100,000 ratings, 943 users, 1,682 items" in message


# ---------------------------------------------------------------- cache dir

def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("LSTM_NP_CACHE", str(tmp_path / "explicit"))
    assert default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("LSTM_NP_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "lstm_np"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "lstm_np"


# ---------------------------------------------------------------- fetch

class Counting:
    """A fake source that counts its calls."""

    def __init__(self, name, result=None, error=None):
        self.name, self.result, self.error, self.calls = name, result, error, 0

    def fetch(self):
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.result


def good_raw() -> RawFiles:
    return RawFiles("grouplens", *grouplens_bytes(), "u.data", "u.item")


def cache_contents(cache: Path) -> list[str]:
    return sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*")) if cache.exists() else []


def test_fallback_order_and_log(tmp_path):
    first = Counting("first", error=OSError("host unreachable"))
    second = Counting("second", result=good_raw())
    third = Counting("third", result=good_raw())
    lines: list[str] = []
    ratings = fetch_movielens_100k(tmp_path, sources=[first, second, third],
                                   expected_sha256=SMALL_SHA, log=lines.append)
    assert_small_data(ratings)
    assert (first.calls, second.calls, third.calls) == (1, 1, 0)
    assert lines[-1] == f"MovieLens-100K from second; cached in {tmp_path / 'ml-100k'}"
    assert any("first failed (OSError: host unreachable)" in line for line in lines)
    assert cache_contents(tmp_path) == ["ml-100k", "ml-100k/SHA256SUMS", "ml-100k/u.data", "ml-100k/u.item"]


def test_cache_reuse_calls_no_source(tmp_path):
    fetch_movielens_100k(tmp_path, sources=[Counting("s", result=good_raw())],
                         expected_sha256=SMALL_SHA, log=None)
    again = Counting("again", result=good_raw())
    lines: list[str] = []
    ratings = fetch_movielens_100k(tmp_path, sources=[again], expected_sha256=SMALL_SHA, log=lines.append)
    assert again.calls == 0
    assert lines == [f"MovieLens-100K from cache {tmp_path / 'ml-100k'}"]
    assert_small_data(ratings)


def test_all_sources_fail_lists_each_and_leaves_nothing(tmp_path):
    cache = tmp_path / "cache"
    wrong = RawFiles("grouplens", replace_line(grouplens_bytes()[0], 1, "1\t10\t5\t100"),
                     grouplens_bytes()[1], "u.data", "u.item")
    sources = [Counting("offline", error=OSError("no route")),
               Counting("tampered", result=wrong),
               Counting("broken", result=RawFiles("grouplens", b"1\t2\n", b"", "u.data", "u.item"))]
    with pytest.raises(DataUnavailableError) as error:
        fetch_movielens_100k(cache, sources=sources, expected_sha256=SMALL_SHA, log=None)
    message = str(error.value)
    assert [what for what, _ in error.value.failures] == [f"cache {cache / 'ml-100k'}", "offline",
                                                         "tampered", "broken"]
    assert "offline: OSError: no route" in message
    assert "tampered: ChecksumError: checksum mismatch" in message
    assert "broken: DataFormatError: u.data line 1: expected 4 tab-separated fields, got 2" in message
    assert f"put u.data and u.item (GroupLens layout) into {cache / 'ml-100k'}/" in message
    assert "load_movielens_100k(path)" in message
    assert cache_contents(cache) == []


def test_failed_cache_write_leaves_no_partial_files(tmp_path, monkeypatch):
    def half_write(ratings, folder):
        Path(folder).mkdir(parents=True)
        (Path(folder) / "u.data").write_text("partial")
        raise OSError("disk full")

    monkeypatch.setattr(data_cache, "write_grouplens", half_write)  # as the cache writer sees it
    lines: list[str] = []
    ratings = fetch_movielens_100k(tmp_path, sources=[Counting("s", result=good_raw())],
                                   expected_sha256=SMALL_SHA, log=lines.append)
    assert_small_data(ratings)  # the verified data is still returned
    assert cache_contents(tmp_path) == []
    assert any("could not write cache" in line and "disk full" in line for line in lines)


def test_invalid_cache_is_replaced(tmp_path):
    stale = write_folder(tmp_path / "ml-100k", "grouplens")
    (stale / "u.data").write_text("1\t2\t3\n")
    lines: list[str] = []
    ratings = fetch_movielens_100k(tmp_path, sources=[Counting("s", result=good_raw())],
                                   expected_sha256=SMALL_SHA, log=lines.append)
    assert_small_data(ratings)
    assert "ignoring cache" in lines[0] and "line 1: expected 4 tab-separated fields, got 3" in lines[0]
    assert load_movielens_100k(tmp_path / "ml-100k", expected_sha256=SMALL_SHA).timestamp[0] == 100
    assert cache_contents(tmp_path) == ["ml-100k", "ml-100k/SHA256SUMS", "ml-100k/u.data", "ml-100k/u.item"]


def test_a_cache_without_its_checksums_is_fetched_again_not_blessed(tmp_path):
    """With SHA256SUMS deleted, nothing vouches for u.item (the data set's checksum covers the ratings only):
    an edited title must not be re-checksummed as verified."""
    fetch_movielens_100k(tmp_path, sources=[Counting("s", result=good_raw())], expected_sha256=SMALL_SHA, log=None)
    folder = tmp_path / "ml-100k"
    (folder / "SHA256SUMS").unlink()
    items = (folder / "u.item").read_bytes()
    (folder / "u.item").write_bytes(items.replace(b"Nine (1990)", b"Eight (1990)"))
    offline = Counting("offline", error=OSError("no network"))
    lines: list[str] = []
    with pytest.raises(DataUnavailableError) as e:
        fetch_movielens_100k(tmp_path, sources=[offline], expected_sha256=SMALL_SHA, log=lines.append)
    assert f"{folder / 'SHA256SUMS'} is missing, so {folder / 'u.item'} cannot be verified" in str(e.value)
    assert not (folder / "SHA256SUMS").exists()  # not blessed
    again = Counting("again", result=good_raw())
    ratings = fetch_movielens_100k(tmp_path, sources=[again], expected_sha256=SMALL_SHA, log=lines.append)
    assert again.calls == 1 and ratings.titles[9] == "Nine (1990)"  # the source's titles, not the edited ones
    assert (folder / "u.item").read_bytes() == items and (folder / "SHA256SUMS").exists()
    assert fetch_movielens_100k(tmp_path, sources=[offline], expected_sha256=SMALL_SHA, log=None).titles[9] \
        == "Nine (1990)" and offline.calls == 1  # the cache written by the fetch is verified and used


def test_plain_callables_and_source_objects(tmp_path):
    def from_memory():
        return good_raw()

    ratings = fetch_movielens_100k(tmp_path / "a", sources=[from_memory], expected_sha256=SMALL_SHA, log=None)
    assert_small_data(ratings)
    with pytest.raises(DataUnavailableError, match="from_memory_fails: RuntimeError: x"):
        def from_memory_fails():
            raise RuntimeError("x")
        fetch_movielens_100k(tmp_path / "b", sources=[Source("from_memory_fails", from_memory_fails)],
                             expected_sha256=SMALL_SHA, log=None)


def test_grouplens_source_reads_the_zip(tmp_path):
    # A file:// URL exercises the real urllib + zip path without any network.
    url = grouplens_zip(tmp_path / "ml-100k.zip").as_uri()
    raw = grouplens_source(url, timeout=1.0).fetch()
    assert raw.ratings_name == "ml-100k.zip:ml-100k/u.data"
    assert_small_data(raw.parse())
    with pytest.raises(OSError):
        grouplens_source((tmp_path / "missing.zip").as_uri(), timeout=1.0).fetch()


def test_recbole_source_reads_the_downloaded_wheel(tmp_path):
    calls = []

    def fake_download(requirement, dest, timeout):
        calls.append(requirement)
        return recbole_wheel(dest / "recbole-1.2.1-py3-none-any.whl")

    source = recbole_wheel_source(download=fake_download)
    ratings = fetch_movielens_100k(tmp_path, sources=[source], expected_sha256=SMALL_SHA, log=None)
    assert calls == ["recbole==1.2.1"]
    assert source.name == "PyPI wheel recbole==1.2.1"
    assert_small_data(ratings)
    assert read_grouplens(tmp_path / "ml-100k").titles == TITLES


# ---------------------------------------------------------------- the real data

REAL = default_cache_dir() / "ml-100k"


@pytest.mark.skipif(not (REAL / "u.data").exists(), reason=f"MovieLens-100K not cached in {REAL}")
def test_real_movielens_checksum_counts_and_split():
    ratings = load_movielens_100k(REAL)  # verifies EXPECTED_SHA256
    assert checksum(ratings) == EXPECTED_SHA256
    assert (len(ratings), len(np.unique(ratings.user)), len(np.unique(ratings.item))) == (100_000, 943, 1_682)
    assert temporal_split(ratings).sizes == (79_122, 10_439, 10_439)
