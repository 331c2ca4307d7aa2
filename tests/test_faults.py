"""Bad input across the public API: the documented error, a message naming the culprit, and no change.

Each test generates bad inputs (hypothesis) and checks, for every one:

* the documented exception type (TypeError for the wrong kind of thing,
  ValueError for a wrong shape, size or value, FloatingPointError for a
  result that overflowed, ModelFileError for a model file, OSError for an
  output folder);
* a message naming the argument or field at fault;
* byte-identical state afterwards: parameters, gradients, optimizer state,
  caches, and the files on disk.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lstm_np import io
from lstm_np.cli import main
from lstm_np.data.movielens import parse_atomic, parse_grouplens
from lstm_np.feedforward import Dense, Embedding
from lstm_np.losses import masked_mse
from lstm_np.optim import SGD, Adam, clip_grad_norm, global_norm
from lstm_np.sequence.gru import GRU
from lstm_np.sequence.lstm import LSTM
from lstm_np.sequence.rnn import RNN

FAST = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
LAYERS = [LSTM, GRU, RNN]
D, H, B, T = 3, 4, 2, 5


# --------------------------------------------------------------------------- helpers


def _fingerprint(obj):
    """Bytes of every array reachable from ``obj`` (dicts, lists, tuples, layers, optimizers)."""
    h = hashlib.sha256()

    def walk(o):
        if isinstance(o, np.ndarray):
            h.update(f"{o.dtype.str}{o.shape}".encode())
            h.update(np.ascontiguousarray(o).tobytes())
        elif isinstance(o, dict):
            for k in sorted(o, key=str):
                h.update(repr(k).encode())
                walk(o[k])
        elif isinstance(o, (list, tuple)):
            for v in o:
                walk(v)
        elif hasattr(o, "params"):  # a layer or an optimizer
            walk(o.params)
            walk(getattr(o, "grads", None))
            if hasattr(o, "state_dict"):
                walk(o.state_dict())
                h.update(repr({k: v for k, v in o.state_dict().items() if k != "buffers"}).encode())
        else:
            h.update(repr(o).encode())

    walk(obj)
    return h.hexdigest()


def _files(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def refused(call, errors, culprit, *state):
    """Assert ``call()`` raises one of ``errors`` naming ``culprit`` and leaves ``state`` unchanged."""
    before = _fingerprint(state)
    with pytest.raises(errors) as info:
        call()
    message = str(info.value)
    assert culprit.lower() in message.lower(), f"{message!r} does not name {culprit!r}"
    assert _fingerprint(state) == before, f"state changed by a refused call ({message})"
    return info.value


def _layer(cls, dtype=np.float64, seed=0, d=D):
    return cls(d, H, rng=seed, dtype=dtype)


def _forward(layer, x):
    res = layer.forward(x)
    return res[0], res[-1]


def _backward(layer, dout, cache):
    return layer.backward(dout, cache)


# --------------------------------------------------------------------------- array inputs


def bad_sequences(dtype):
    """(bad x, what the message must name) for a layer with D inputs of ``dtype``."""
    other = np.float32 if dtype == np.float64 else np.float64
    good = np.ones((B, T, D), dtype)
    nonfinite = st.builds(lambda v, i: _with(good, i, v), st.sampled_from([np.nan, np.inf, -np.inf]),
                          st.integers(0, good.size - 1))
    return st.one_of(
        st.builds(lambda s: np.ones(s, dtype), st.sampled_from([(B, T), (B, T, D + 1), (B, T, D, 1), (T * D,)])),
        st.just(good.astype(other)), st.just(good.astype(np.int64)), st.just(good.astype(complex)),
        st.just(good.astype(bool)), st.just(np.zeros((0, T, D), dtype)), st.just(np.zeros((B, 0, D), dtype)),
        nonfinite, st.just(None), st.just("abc"), st.just([[[1.0, 2.0, 3.0]], [[1.0, 2.0]]]),
        st.just(np.array([["a"] * D] * T)[None]),
    )


def _with(a, i, v):
    a = a.copy()
    a.flat[i] = v
    return a


@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@FAST
@given(data=st.data())
def test_bad_x_is_refused_and_changes_nothing(cls, dtype, data):
    layer = _layer(cls, dtype)
    x = data.draw(bad_sequences(dtype))
    refused(lambda: layer.forward(x), (TypeError, ValueError), "x", layer)


@pytest.mark.parametrize("cls", LAYERS)
@FAST
@given(kind=st.sampled_from(["other_layer", "other_D", "other_dtype", "tuple", "bad_act", "bad_hs", "bad_mask",
                             "bad_x_dtype"]))
def test_foreign_or_damaged_caches_are_refused_by_backward(cls, kind):
    rng = np.random.default_rng(0)
    layer = _layer(cls)
    x = rng.standard_normal((B, T, D))
    out, cache = _forward(layer, x)
    dout = np.ones_like(out)
    if kind == "other_layer":  # same sizes, other weights: would silently give the other layer's gradients
        _, bad = _forward(_layer(cls, seed=1), x)
        culprit = "another"
    elif kind == "other_D":
        _, bad = _forward(_layer(cls, d=D + 2), rng.standard_normal((B, T, D + 2)))
        culprit = "another"
    elif kind == "other_dtype":
        _, bad = _forward(_layer(cls, np.float32), x.astype(np.float32))
        culprit = "another"
    elif kind == "tuple":
        bad, culprit = tuple(cache), "cache"
    elif kind == "bad_act":
        bad, culprit = cache._replace(act=cache.act[:, :, :1]), "cache.act"
    elif kind == "bad_hs":
        bad, culprit = cache._replace(hs=cache.hs[:-1]), "cache.hs"
    elif kind == "bad_mask":
        bad, culprit = cache._replace(mask=np.ones((T, B + 1, 1))), "cache.mask"
    else:
        bad, culprit = cache._replace(x=cache.x.astype(np.float32)), "cache.x"
    layer.backward(dout, cache)  # gradients hold something to be kept
    refused(lambda: layer.backward(dout, bad), (TypeError, ValueError), culprit, layer, cache, bad)


@pytest.mark.parametrize("cls", LAYERS)
def test_float32_backward_that_overflows_raises_and_keeps_the_gradients(cls):
    layer = _layer(cls, np.float32)
    x = np.ones((B, T, D), np.float32)
    out, cache = _forward(layer, x)
    layer.backward(np.ones_like(out), cache)
    dout = np.full_like(out, 3e38)
    refused(lambda: layer.backward(dout, cache), FloatingPointError, "not finite", layer, cache)


@pytest.mark.parametrize("cls", LAYERS)
@FAST
@given(which=st.sampled_from(["dout", "dh_T"]), value=st.sampled_from([np.nan, np.inf]),
       shape_off=st.booleans())
def test_bad_upstream_gradients_are_refused(cls, which, value, shape_off):
    layer = _layer(cls)
    out, cache = _forward(layer, np.ones((B, T, D)))
    good = {"dout": np.ones_like(out), "dh_T": np.ones((B, H))}
    bad = np.ones((B + 1, T, H) if which == "dout" else (B + 1, H)) if shape_off else _with(good[which], 0, value)
    args = {**good, which: bad}
    refused(lambda: layer.backward(args["dout"], cache, dh_T=args["dh_T"]), ValueError, which, layer, cache)


# --------------------------------------------------------------------------- sizes and framework weights

bad_sizes = st.sampled_from([0, -1, 2.7, 3.0, "3", None, True, float("nan"), 1j])


@FAST
@given(num=st.one_of(bad_sizes, st.just(3)), dim=st.one_of(bad_sizes, st.just(2)))
def test_layer_sizes_must_be_positive_integers(num, dim):
    if num == 3 and dim == 2 and not isinstance(num, bool) and not isinstance(dim, bool):
        return
    culprit = "num" if not (isinstance(num, int) and not isinstance(num, bool) and num == 3) else "dim"
    refused(lambda: Embedding(num, dim), (TypeError, ValueError), culprit)
    culprit = "in_features" if culprit == "num" else "out_features"
    refused(lambda: Dense(num, dim), (TypeError, ValueError), culprit)
    refused(lambda: LSTM(num, dim), (TypeError, ValueError), "input_size" if culprit == "in_features" else "hidden_size")


def _torch_state(H_=H, D_=D, k=4, dtype=np.float64):
    return {"weight_ih_l0": np.ones((k * H_, D_), dtype), "weight_hh_l0": np.ones((k * H_, H_), dtype),
            "bias_ih_l0": np.ones(k * H_, dtype), "bias_hh_l0": np.ones(k * H_, dtype)}


@pytest.mark.parametrize("cls, k", [(LSTM, 4), (GRU, 3), (RNN, 1)])
@FAST
@given(kind=st.sampled_from(["list", "none", "zero_H", "zero_D", "complex", "string", "nan", "missing", "extra"]))
def test_from_torch_refuses_what_it_cannot_represent(cls, k, kind):
    state = _torch_state(k=k)
    culprit = "weight_ih_l0"
    if kind == "list":
        state, culprit = list(state.values()), "state_dict"
    elif kind == "none":
        state["weight_ih_l0"] = None
    elif kind == "zero_H":
        state = _torch_state(H_=0, k=k)
    elif kind == "zero_D":
        state = _torch_state(D_=0, k=k)
    elif kind == "complex":
        state["weight_ih_l0"] = state["weight_ih_l0"] + 1j
    elif kind == "string":
        state["weight_hh_l0"], culprit = np.full((k * H, H), "1"), "weight_hh_l0"
    elif kind == "nan":
        state["bias_hh_l0"], culprit = _with(state["bias_hh_l0"], 0, np.nan), "bias_hh_l0"
    elif kind == "missing":
        del state["weight_hh_l0"]
        culprit = "weight_hh_l0"
    else:
        state["weight_ih_l1"], culprit = np.ones(1), "weight_ih_l1"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning: refused, not truncated
        refused(lambda: cls.from_torch(state), (TypeError, ValueError), culprit)


@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("weights, culprit", [
    (None, "weights"), ("abc", "weights"), ({"kernel": 1}, "weights"), ([np.ones((3, 4))], "weights"),
    ([np.ones((3, 0)), np.ones((0, 0))], "kernel"), ([np.ones((3, 12)) * 1j, np.ones((4, 12))], "kernel"),
])
def test_from_keras_refuses_what_it_cannot_represent(cls, weights, culprit):
    refused(lambda: cls.from_keras(weights), (TypeError, ValueError), culprit)


# --------------------------------------------------------------------------- feed-forward layers and loss


@FAST
@given(kind=st.sampled_from(["out_of_range", "float_ids", "list", "shape", "nan_dout", "int32"]))
def test_embedding_backward_validates_before_it_writes(kind):
    emb = Embedding(5, 3, rng=0)
    out, ids = emb.forward(np.array([[0, 1], [4, 4]]))
    emb.backward(np.ones_like(out), ids)
    dout, cache, culprit = np.ones_like(out), ids, "ids"
    if kind == "out_of_range":
        cache = np.array([[0, 7], [1, 1]])
    elif kind == "float_ids":
        cache = ids.astype(float)
    elif kind == "list":
        cache = ids.tolist()
    elif kind == "int32":
        cache = ids.astype(np.int32)
    elif kind == "shape":
        dout, culprit = np.ones((2, 2, 4)), "dout"
    else:
        dout, culprit = _with(dout, 3, np.nan), "dout"
    refused(lambda: emb.backward(dout, cache), (TypeError, ValueError), culprit, emb)


def test_dense_refuses_a_cache_in_another_dtype_and_overflow():
    dense = Dense(3, 2, rng=0)
    y, h = dense.forward(np.ones((4, 3)))
    dense.backward(np.ones_like(y), h)
    refused(lambda: dense.backward(np.ones_like(y), h.astype(np.float32)), TypeError, "cache (h)", dense)
    refused(lambda: dense.backward(np.ones_like(y), "h"), TypeError, "cache (h)", dense)
    d32 = Dense(3, 2, rng=0, dtype=np.float32)
    y, h = d32.forward(np.full((4, 3), 1e37, np.float32))
    d32.backward(np.ones_like(y), h)
    refused(lambda: d32.backward(np.full_like(y, 1e38), h), FloatingPointError, 'grads["W"]', d32)
    refused(lambda: d32.forward(np.full((4, 3), 3e38, np.float32)), FloatingPointError, "y", d32)


def test_masked_mse_refuses_an_overflowing_loss():
    pred, target = np.full(3, 3e38, np.float32), np.full(3, -3e38, np.float32)
    refused(lambda: masked_mse(pred, target), FloatingPointError, "loss")
    refused(lambda: masked_mse([[1.0, 2.0], [1.0]], target), ValueError, "pred")
    refused(lambda: masked_mse(np.ones(3) + 1j, np.ones(3)), TypeError, "pred")


# --------------------------------------------------------------------------- optimizers


def _opt(kind, seed=0):
    rng = np.random.default_rng(seed)
    params = {"a": rng.standard_normal(3), "b": rng.standard_normal((2, 2))}
    opt = SGD(params, lr=0.1) if kind == "sgd" else Adam(params, lr=0.1)
    opt.step({k: rng.standard_normal(v.shape) for k, v in params.items()})  # non-trivial buffers and t
    return opt


bad_rates = st.sampled_from([float("nan"), float("inf"), -float("inf"), 0.0, -0.1, "0.1", None, True, 1j,
                             np.array([0.1])])


@FAST
@given(kind=st.sampled_from(["sgd", "adam"]), lr=bad_rates)
def test_learning_rates_must_be_finite_and_positive(kind, lr):
    params = {"a": np.ones(3)}
    make = (lambda: SGD(params, lr=lr)) if kind == "sgd" else (lambda: Adam(params, lr=lr))
    refused(make, (TypeError, ValueError), "lr", params)


def _damaged_state(state, kind):
    s = {**state, "buffers": {n: dict(b) for n, b in state["buffers"].items()}}
    name = next(iter(s["buffers"]))
    if kind == "missing_t":
        del s["t"]
        return s, "t"
    if kind == "negative_t":
        return {**s, "t": -1}, "t"
    if kind == "float_t":
        return {**s, "t": 1.5}, "t"
    if kind == "nan_lr":
        return {**s, "lr": float("nan")}, "lr"
    if kind == "extra_key":
        return {**s, "foo": 1}, "foo"
    if kind == "missing_buffer_entry":
        del s["buffers"][name]["b"]
        return s, name
    if kind == "nan_buffer":
        s["buffers"][name]["b"] = _with(s["buffers"][name]["b"], 0, np.nan)
        return s, f"{name}['b']"
    if kind == "complex_buffer":
        s["buffers"][name]["a"] = s["buffers"][name]["a"] + 1j
        return s, f"{name}['a']"
    if kind == "shape_buffer":
        s["buffers"][name]["a"] = np.zeros(4)
        return s, f"{name}['a']"
    return [1, 2], "state"


@FAST
@given(opt_kind=st.sampled_from(["sgd", "adam"]),
       kind=st.sampled_from(["missing_t", "negative_t", "float_t", "nan_lr", "extra_key", "missing_buffer_entry",
                             "nan_buffer", "complex_buffer", "shape_buffer", "not_a_dict"]))
def test_load_state_dict_checks_everything_before_writing(opt_kind, kind):
    opt = _opt(opt_kind)
    other = _opt(opt_kind, seed=1)
    state, culprit = _damaged_state(other.state_dict(), kind)
    refused(lambda: opt.load_state_dict(state), (TypeError, ValueError), culprit, opt)


@FAST
@given(opt_kind=st.sampled_from(["sgd", "adam"]),
       kind=st.sampled_from(["complex", "nan", "shape", "missing", "overflow", "string", "list"]))
def test_step_validates_and_computes_before_it_writes(opt_kind, kind):
    opt = _opt(opt_kind)
    grads = {k: np.ones_like(v) for k, v in opt.params.items()}
    culprit = "grads['a']"
    if kind == "complex":
        grads["a"] = grads["a"] + 1j
    elif kind == "nan":
        grads["a"] = _with(grads["a"], 1, np.nan)
    elif kind == "shape":
        grads["a"] = np.ones(4)
    elif kind == "missing":
        del grads["a"]
        culprit = "missing ['a']"
    elif kind == "overflow":  # finite, but g*g (Adam) or the update overflows
        grads["b"] = np.full((2, 2), 1.7e308)
        grads["a"] = np.full(3, 1.7e308)
        culprit = "nan or inf"
    elif kind == "string":
        grads["a"] = "abc"
    else:
        grads = [grads["a"], grads["b"]]
        culprit = "grads"
    if kind == "overflow" and opt_kind == "sgd":
        opt.params["a"][...] = -1.7e308  # p - lr * v overflows
    refused(lambda: opt.step(grads), (TypeError, ValueError, FloatingPointError), culprit, opt)


@FAST
@given(scale=st.floats(1e20, 3e38), n=st.integers(1, 50))
def test_clip_grad_norm_does_not_overflow(scale, n):
    grads = {"a": np.full(n, scale, np.float32), "b": np.full(2, -scale, np.float32)}
    norm = clip_grad_norm(grads, max_norm=1.0)
    expected = float(np.float32(scale)) * math.sqrt(n + 2)
    assert math.isfinite(norm) and norm == pytest.approx(expected, rel=1e-5)
    assert global_norm(grads) == pytest.approx(1.0, rel=1e-5)
    assert np.all(np.isfinite(grads["a"])) and np.all(grads["a"] > 0)


def test_clip_grad_norm_refuses_nan_and_bad_max_norm():
    grads = {"a": np.array([1.0, np.nan])}
    refused(lambda: clip_grad_norm(grads, 1.0), FloatingPointError, "grads['a']", grads)
    grads = {"a": np.array([3.0, 4.0])}
    for bad in (float("nan"), 0.0, -1.0, "1"):
        refused(lambda: clip_grad_norm(grads, bad), (TypeError, ValueError), "max_norm", grads)


# --------------------------------------------------------------------------- model files

SCHEMA = {
    "model": {"num_items": io.Int(1, 10**7, dim=("emb.W", 0)), "dim": io.Int(1, 4096, dim=("emb.W", 1)),
              "mean": io.Float(0, 10), "dtype": io.Str(["float32", "float64"])},
    "data": {"name": io.Str(["movielens", "synthetic"]), "seed": io.Int(0, optional=True)},
    "vocabulary": io.Any(dict_only=True),
}


def _saved(folder):
    arrays = {"emb.W": np.arange(12.0).reshape(4, 3), "ids": np.arange(4)}
    meta = {"model": {"num_items": 4, "dim": 3, "mean": 3.5, "dtype": "float64"},
            "data": {"name": "synthetic", "seed": 0}, "vocabulary": {"a": 1}}
    io.save(folder / "model", arrays, meta)
    return arrays, meta


def _edit(folder, change):
    path = folder / "model.json"
    j = json.loads(path.read_text())
    change(j)
    path.write_text(json.dumps(j))


bad_fields = st.sampled_from([
    (("model", "num_items"), 10**9, "num_items"), (("model", "num_items"), "abc", "num_items"),
    (("model", "num_items"), 2.5, "num_items"), (("model", "num_items"), True, "num_items"),
    (("model", "dim"), 4, "dim"), (("model", "mean"), float("nan"), "mean"), (("model", "mean"), "3", "mean"),
    (("model", "mean"), float("inf"), "mean"), (("model", "dtype"), "int32", "dtype"),
    (("data", "seed"), "abc", "seed"), (("data", "seed"), -1, "seed"), (("data", "name"), None, "name"),
    (("vocabulary",), None, "vocabulary"), (("model",), [], "model"),
])


@FAST
@given(field=bad_fields, delete=st.booleans())
def test_edited_json_fields_are_model_file_errors_before_any_data_is_read(tmp_path_factory, field, delete):
    folder = tmp_path_factory.mktemp("m")
    _saved(folder)
    (*where, key), value, culprit = field
    if delete and key == "seed":
        return  # optional: leaving it out is fine

    def change(j):
        target = j["meta"]
        for k in where:
            target = target[k]
        if delete:
            del target[key]
        else:
            target[key] = value

    _edit(folder, change)
    before = _files(folder)
    refused(lambda: io.load(folder / "model", schema=SCHEMA), io.ModelFileError, culprit)
    assert _files(folder) == before


@pytest.mark.parametrize("damage, culprit", [
    (lambda d: (d / "model.json").write_text("[" * 100_000 + "]" * 100_000), "model.json"),
    (lambda d: (d / "model.json").write_text('{"a":' * 1000 + "1" + "}" * 1000), "model.json"),
    (lambda d: (d / "model.json").write_bytes(b"\xff\xfe{}"), "model.json"),
    (lambda d: (d / "model.json").write_text(" " * (io.MAX_JSON_BYTES + 1)), "model.json"),
    (lambda d: _edit(d, lambda j: j.pop("arrays")), "arrays"),
    (lambda d: _edit(d, lambda j: j["arrays"]["ids"].update(shape=[-1])), "ids"),
    (lambda d: _edit(d, lambda j: j["arrays"]["ids"].update(shape=[10**12])), "ids"),
    (lambda d: _edit(d, lambda j: j.update(format="other")), "not an lstm_np model file"),
    (lambda d: (d / "model.npz").write_bytes(b""), "model.npz"),
])
def test_damaged_model_files_are_model_file_errors(tmp_path, damage, culprit):
    _saved(tmp_path)
    damage(tmp_path)
    before = _files(tmp_path)
    refused(lambda: io.load(tmp_path / "model"), io.ModelFileError, culprit)
    assert _files(tmp_path) == before


def _rewrite_npz(folder, data):
    """Replace the .npz and update the checksum, as a careful forger would."""
    (folder / "model.npz").write_bytes(data)
    _edit(folder, lambda j: j.update(npz_sha256=hashlib.sha256(data).hexdigest()))


def test_an_npz_that_is_a_single_npy_or_holds_other_members_is_refused(tmp_path):
    import io as _io
    import zipfile

    _saved(tmp_path)
    buf = _io.BytesIO()
    np.save(buf, np.zeros(3))
    _rewrite_npz(tmp_path, buf.getvalue())
    refused(lambda: io.load(tmp_path / "model"), io.ModelFileError, "single .npy")
    for member, payload in (("emb.W.txt", b"hello"), ("emb.W.npy", b"not an npy")):
        buf = _io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(member, payload)
        _rewrite_npz(tmp_path, buf.getvalue())
        refused(lambda: io.load(tmp_path / "model"), io.ModelFileError, member)


@FAST
@given(cut=st.integers(0, 2000), flip=st.integers(0, 2000))
def test_truncated_or_flipped_npz_is_a_model_file_error(tmp_path_factory, cut, flip):
    folder = tmp_path_factory.mktemp("m")
    _saved(folder)
    data = bytearray((folder / "model.npz").read_bytes())
    data[flip % len(data)] ^= 0xFF
    (folder / "model.npz").write_bytes(bytes(data[: len(data) - cut % len(data)]))
    before = _files(folder)
    refused(lambda: io.load(folder / "model"), io.ModelFileError, "model.npz")
    assert _files(folder) == before


def test_a_refused_save_leaves_the_previous_model(tmp_path):
    arrays, meta = _saved(tmp_path)
    before = _files(tmp_path)
    refused(lambda: io.save(tmp_path / "model", {"a": np.array([{}], dtype=object)}, {}), TypeError, "'a'")
    refused(lambda: io.save(tmp_path / "model", {"a": np.zeros(2)}, {"x": object()}), TypeError, "meta")
    refused(lambda: io.save(tmp_path / "model", {"__description__": np.zeros(2)}, {}), ValueError,
            "__description__")
    assert _files(tmp_path) == before
    assert io.load(tmp_path / "model")[1] == meta


def test_a_save_that_fails_midway_leaves_the_previous_model(tmp_path, monkeypatch):
    _, meta = _saved(tmp_path)
    before = _files(tmp_path)
    real_replace = os.replace
    calls = []

    def full_disk(src, dst):
        calls.append(dst)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        io.save(tmp_path / "model", {"emb.W": np.zeros((4, 3)), "ids": np.arange(4)}, {**meta, "v": 2})
    monkeypatch.undo()
    assert _files(tmp_path) == before  # and no temporary file


def test_a_save_interrupted_between_its_two_renames_loads_as_the_new_model(tmp_path):
    _saved(tmp_path)
    old_json = (tmp_path / "model.json").read_bytes()
    new = {"emb.W": np.ones((4, 3)), "ids": np.arange(4)}
    io.save(tmp_path / "model", new, {"v": "new"})
    (tmp_path / "model.json").write_bytes(old_json)  # as if killed before the second rename
    arrays, meta = io.load(tmp_path / "model")
    assert meta == {"v": "new"} and np.array_equal(arrays["emb.W"], new["emb.W"])
    (tmp_path / "model.json").unlink()  # killed during the very first save, after the first rename
    assert io.load(tmp_path / "model")[1] == {"v": "new"}


# --------------------------------------------------------------------------- output folders and the CLI


def test_check_writable_dir_names_the_problem(tmp_path):
    (tmp_path / "file").write_text("x")
    refused(lambda: io.check_writable_dir(tmp_path / "file"), NotADirectoryError, "is a file")
    refused(lambda: io.check_writable_dir(tmp_path / "file" / "sub"), NotADirectoryError, "file is a file")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("x")
    refused(lambda: io.check_writable_dir(tmp_path / "notes"), FileExistsError, "todo.txt")
    io.check_writable_dir(tmp_path / "new" / "deeper")  # fine: will be made
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "notes"]  # the check wrote nothing


def test_run_folder_keeps_the_old_run_when_the_block_raises(tmp_path):
    out = tmp_path / "run"
    with io.run_folder(out) as stage:
        (stage / "metrics.json").write_text("old")
    with pytest.raises(RuntimeError), io.run_folder(out) as stage:
        (stage / "metrics.json").write_text("new")
        raise RuntimeError("training diverged")
    assert (out / "metrics.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.parametrize("argv, culprit", [
    (["train", "--data", "synthetic", "--out", "{tmp}/file"], "is a file"),
    (["train", "--data", "synthetic", "--out", "{tmp}/file/sub"], "is a file"),
    (["train", "--data", "synthetic", "--out", "{tmp}/notes"], "not part of a run"),
    (["train", "--data", "synthetic", "--out", "/sys/lstm_np_test_run"], "cannot write"),
    (["evaluate", "{tmp}/file"], "file not found"),
    (["evaluate", "{tmp}/notes"], "file not found"),
])
def test_cli_turns_bad_paths_into_one_line_and_exit_2(tmp_path, capsys, argv, culprit):
    (tmp_path / "file").write_text("x")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("x")
    if "/sys/" in " ".join(argv) and not os.path.isdir("/sys"):
        pytest.skip("no /sys")
    before = _files(tmp_path)
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and culprit in err
    assert _files(tmp_path) == before


@pytest.mark.parametrize("argv, culprit", [
    (["train", "--seed", "-1"], "--seed"), (["train", "--data-seed", "-5"], "--data-seed"),
    (["gradcheck", "--tol", "nan"], "--tol"), (["gradcheck", "--tol", "-1"], "--tol"),
    (["gradcheck", "--seed", "-3"], "--seed"),
])
def test_cli_refuses_bad_numbers_before_doing_anything(capsys, argv, culprit):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and culprit in capsys.readouterr().err


def test_parsers_want_bytes():
    refused(lambda: parse_grouplens("1\t2\t3\t4\n", b"2|x\n"), TypeError, "u.data")
    refused(lambda: parse_grouplens(b"1\t2\t3\t4\n", "2|x\n"), TypeError, "u.item")
    refused(lambda: parse_atomic(None, b""), TypeError, "ml-100k.inter")


# --------------------------------------------------------------------------- controls: the checks above can fail


def test_control_refused_catches_a_call_that_writes_before_raising():
    opt = _opt("adam")

    def writes_then_raises():
        opt.m["a"][0] += 1.0  # what load_state_dict used to do: write, then find the bad key
        raise ValueError("state is missing 'lr'")

    with pytest.raises(AssertionError, match="state changed"):
        refused(writes_then_raises, ValueError, "lr", opt)
    with pytest.raises(AssertionError, match="does not name"):
        refused(lambda: (_ for _ in ()).throw(ValueError("bad input")), ValueError, "lr")


def test_control_a_mixed_pair_without_a_self_describing_npz_is_refused(tmp_path):
    # Version-1 files (no description inside the .npz) cannot be resolved:
    # the mix of two saves is refused rather than loaded as either.
    _saved(tmp_path)
    old_json = (tmp_path / "model.json").read_bytes()
    io.save(tmp_path / "model", {"emb.W": np.ones((4, 3)), "ids": np.arange(4)}, {"v": "new"})
    data = io._npz_bytes({k: v for k, v in io.load(tmp_path / "model")[0].items()})  # no __description__
    (tmp_path / "model.npz").write_bytes(data)
    (tmp_path / "model.json").write_bytes(old_json)
    refused(lambda: io.load(tmp_path / "model"), io.ModelFileError, "checksum")


# --------------------------------------------------------------------------- the recommender's model files


def _saved_recommender(folder):
    """A small SequenceRecommender (untrained) saved as ``folder/model``, on the synthetic data it names."""
    from lstm_np.data import make_synthetic, temporal_split
    from lstm_np.recommender.hybrid import CorrectionNet, SequenceConfig, build_histories
    from lstm_np.recommender.mf import MatrixFactorization
    from lstm_np.recommender.pipeline import SequenceRecommender, save_model

    ratings = make_synthetic(seed=0)
    h = build_histories(ratings, temporal_split(ratings))
    config = SequenceConfig(hidden_size=4, window=8, dtype="float64")
    model = SequenceRecommender(MatrixFactorization(h.num_users, h.num_items, 2, mu=3.5, rng=0),
                                CorrectionNet(hidden_size=4, rng=0, dtype=np.float64), config, "mf")
    save_model(folder / "model", model, h, ratings, {"name": "synthetic", "seed": 0})


def _deep_json(j):
    j["meta"]["metrics"] = "DEEP"
    return json.dumps(j).replace('"DEEP"', "[" * 100_000 + "]" * 100_000)


@pytest.mark.parametrize("change, culprit", [
    (lambda j: j["meta"]["data"].update(seed="abc"), "meta.data.seed"),
    (lambda j: j["meta"]["sequence"].update(seed="abc"), "meta.sequence.seed"),
    (lambda j: j["meta"]["base"].update(mu=float("nan")), "meta.base.mu"),
    (lambda j: j["meta"]["base"].update(num_items=10**9), "meta.base.num_items"),
    (lambda j: j["meta"]["base"].update(num_users=10**6), "meta.base.num_users"),
    (lambda j: j["meta"]["base"].update(factors=10**9), "meta.base.factors"),
    (lambda j: j["meta"]["net"].update(hidden_size=10**6), "meta.net.hidden_size"),
    (lambda j: j["meta"]["net"].update(input_size=10**6), "meta.net.input_size"),
    (lambda j: j["meta"]["base"].pop("num_items"), "meta.base.num_items"),
    (lambda j: j["arrays"].pop("vocab.item_ids"), "vocab.item_ids"),
    (lambda j: j["meta"]["net"].update(dtype="int32"), "meta.net.dtype"),
    (lambda j: j["meta"]["sequence"].update(dtype="float16"), "meta.sequence.dtype"),
    (lambda j: j["meta"].pop("sequence"), "meta.sequence"),
    (lambda j: j["meta"].update(kind="lstm_np.recommender.RatingModel"), "meta.kind"),
    (_deep_json, "nested"),
])
def test_the_issues_edited_model_json_cases_are_refused_by_the_schema(tmp_path, monkeypatch, change, culprit):
    from lstm_np.recommender import pipeline

    _saved_recommender(tmp_path)
    pipeline.load_model(tmp_path)  # the saved file loads
    path = tmp_path / "model.json"
    j = json.loads(path.read_text())
    text = change(j)
    path.write_text(text if isinstance(text, str) else json.dumps(j))
    before = _files(tmp_path)

    def allocates(*args, **kwargs):
        raise AssertionError("load_model built a layer or loaded the data before refusing the file")

    for name in ("MatrixFactorization", "CorrectionNet", "_load_data_from_meta"):
        monkeypatch.setattr(pipeline, name, allocates)
    refused(lambda: pipeline.load_model(tmp_path), io.ModelFileError, culprit)
    assert _files(tmp_path) == before


def test_save_refuses_non_finite_meta_and_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match="not finite"):
        io.save(tmp_path / "m", {"a": np.ones(2)}, {"x": float("nan")})
    assert list(tmp_path.iterdir()) == []
