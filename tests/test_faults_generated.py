"""Fault tests generated from the signatures and the README's table ("What happens on bad input").

Nothing here lists bad calls by hand. Each public entry point is given once with good arguments; every
parameter of its signature (read with ``inspect.signature``) gets a kind from the naming rules below
(``hidden_size`` is a size, ``lr`` a rate, ``x`` an array of a shape and dtype, ...), and each kind
generates its bad values with the exception the README's table documents for them:

* the wrong kind of thing (None where a value is needed, text, a bool, complex numbers, another dtype)
  is a ``TypeError``;
* a wrong value (0, negative, fractional, NaN, inf, a huge size that cannot fit in memory, a wrong shape)
  is a ``ValueError``.

For every bad call the test asserts the documented class and that nothing changed, byte for byte:
parameters, gradients, optimizer buffers, caches, the arguments' own arrays and every
``numpy.random.Generator`` reachable from them. A parameter that no rule covers fails the coverage test,
so a new argument cannot go untested.
"""

from __future__ import annotations

import hashlib
import inspect
import math

import numpy as np
import pytest

from lstm_np.charlm import CharLM, CharLMConfig, Vocab, cosine_lr, evaluate_bpc
from lstm_np.feedforward import Dense, Embedding
from lstm_np.losses import masked_mse, softmax_cross_entropy
from lstm_np.optim import SGD, Adam, clip_grad_norm
from lstm_np.data import make_synthetic, temporal_split
from lstm_np.recommender.hybrid import SequenceConfig
from lstm_np.recommender.protocol import run_protocol
from lstm_np.recommender.mf import MatrixFactorization, fit_mf
from lstm_np.sequence import GRU, LSTM, RNN, SLSTM, MinGRU, MinLSTM, Stack, VariantLSTM

B, T, D, H = 2, 3, 3, 4
HUGE = 10**9  # a size whose arrays (at least 4 * 10**9 numbers, times the other sizes) fit in no test machine

# --------------------------------------------------------------------------- kinds and their bad values

NAN, INF = float("nan"), float("inf")
#: A bool is refused by every check, as a TypeError (the wrong kind) or, by the layers' size check, as a
#: ValueError (``Embedding(True, 3)``: not a size); the README's table does not name bools.
NOT_A_NUMBER = [(None, TypeError), ("3", TypeError), (True, (TypeError, ValueError)), (1j, TypeError)]


def bad_values(kind):
    """(value, documented exception) pairs for a parameter of ``kind``."""
    if kind == "size":        # a positive int whose arrays must fit in memory
        return NOT_A_NUMBER + [(0, ValueError), (-1, ValueError), (2.5, ValueError), (3.0, ValueError),
                               (NAN, ValueError), (INF, ValueError), (HUGE, ValueError)]
    if kind == "count":       # a positive int (no memory at stake)
        return NOT_A_NUMBER + [(0, ValueError), (-1, ValueError), (2.5, ValueError), (NAN, ValueError)]
    if kind == "count0":      # a non-negative int (a seed, epochs, patience)
        return NOT_A_NUMBER + [(-1, ValueError), (2.5, ValueError), (NAN, ValueError), (INF, ValueError)]
    if kind == "rate":        # a finite number > 0
        return NOT_A_NUMBER + [(0.0, ValueError), (-0.1, ValueError), (NAN, ValueError), (INF, ValueError)]
    if kind == "nonneg":      # a finite number >= 0
        return NOT_A_NUMBER + [(-0.1, ValueError), (NAN, ValueError), (INF, ValueError)]
    if kind == "real":        # any finite number
        return NOT_A_NUMBER + [(NAN, ValueError), (INF, ValueError), (-INF, ValueError)]
    if kind == "fraction":    # [0, 1)
        return NOT_A_NUMBER + [(-0.1, ValueError), (1.0, ValueError), (NAN, ValueError), (INF, ValueError)]
    if kind == "dtype":
        return [("int32", TypeError), (np.float16, TypeError), ("abc", TypeError), (3, TypeError)]
    if kind == "dtype_name":  # a setting naming a dtype: another name is a bad value, not a bad kind
        return [("int32", ValueError), ("float16", ValueError), (3, TypeError), (None, TypeError)]
    if kind == "rng":
        return [("abc", TypeError), (2.5, TypeError), (-1, ValueError), ([1.5], TypeError)]
    if kind == "callable":
        return [(None, TypeError), (3, TypeError)]
    if kind == "callable_or_none":
        return [(3, TypeError), ("abc", TypeError)]
    if kind == "name":  # one of a few names
        return [(None, ValueError), ("abc", ValueError)]
    if kind in ("object", "object_or_none"):  # a data set, a config: another kind of object is a TypeError
        return [("abc", TypeError), ({}, TypeError)] + ([(None, TypeError)] if kind == "object" else [])
    if isinstance(kind, tuple) and kind[0] in ("array", "state", "numbers"):
        # ("array", shape, dtype): exactly that dtype and shape; ("numbers", shape, dtype): any real dtype
        # and any size of the last axis (logits over any V, ratings as any floats)
        _, shape, dtype = kind
        other = np.float32 if np.dtype(dtype) == np.float64 else np.float64
        good = np.ones(shape, dtype)
        cases = [("abc", TypeError), (good.astype(complex), TypeError), (np.ones(shape + (1,), dtype), ValueError),
                 (_with(good, NAN), ValueError), (_with(good, INF), ValueError)]
        if kind[0] != "numbers":
            cases += [(good.astype(other), TypeError), (np.ones(shape[:-1] + (shape[-1] + 1,), dtype), ValueError)]
        if kind[0] != "state":
            cases.append((None, TypeError))
        return cases
    if isinstance(kind, tuple) and kind[0] == "ids":  # ("ids", shape, V[, any shape])
        shape, V = kind[1:3]
        good = np.zeros(shape, np.int64)
        cases = [(None, TypeError), ("abc", TypeError), (good.astype(float), TypeError), (_with(good, V), ValueError),
                 (_with(good, -1), ValueError)]
        return cases if kind[3:] == ("any shape",) else cases + [(np.zeros(shape + (1,), np.int64), ValueError)]
    if isinstance(kind, tuple) and kind[0] == "mask":
        _, shape = kind
        return [("abc", TypeError), (np.full(shape, 2.0), ValueError), (np.ones(shape[:-1] + (shape[-1] + 1,)), ValueError)]
    raise AssertionError(f"no bad values for kind {kind!r}")


def _with(a, v):
    a = a.copy()
    a.flat[0] = v
    return a


#: The naming rules: a parameter's kind from its name (an entry point may override one).
BY_NAME = {
    **dict.fromkeys(["input_size", "hidden_size", "embed_dim", "num", "dim", "in_features", "out_features",
                     "num_users", "num_items", "V"], "size"),
    **dict.fromkeys(["num_layers", "batch_size", "seq_len", "length", "steps", "step", "window", "cuts",
                     "max_epochs", "eval_every", "eval_chars", "sample_every"], "count"),
    **dict.fromkeys(["epochs", "patience", "seed", "factors", "sample_len"], "count0"),
    **dict.fromkeys(["lr", "lr_final", "clip", "temperature", "max_norm", "eps"], "rate"),
    **dict.fromkeys(["reg", "reg_bias", "scale", "momentum_nonneg"], "nonneg"),
    **dict.fromkeys(["mu", "forget_bias", "bias"], "real"),
    **dict.fromkeys(["dropout", "momentum", "beta1", "beta2"], "fraction"),
    "dtype": "dtype", "rng": "rng", "make_layer": "callable",
}

#: Parameters not generated, each with its reason (anything else uncovered fails the coverage test).
NOT_GENERATED = {
    "self": "the object",
    "cache": "caches of other layers and damaged caches: tests/test_faults.py",
    "reuse": "reuse of caches: tests/test_sequence_lstm_buffers.py",
    "method": "a name among a few: tests/test_modern_cells.py",
    "variant": "a name among the VARIANTS: tests/test_variants.py",
    "layers": "the stack's layers: test_stack_refuses_one_layer_twice below, tests/test_stack.py",
    "state": "a list of per-layer states: its entries are generated as h0/c0",
    "dstate": "likewise, as dh_T/dc_T",
    "dropout_masks": "given masks: tests/test_stack.py",
    "train": "a flag", "vocab": "a Vocab: tests/test_charlm.py", "prime": "text: tests/test_charlm.py",
    "val": "a tuple of arrays, checked like train", "train_": "", "grid": "test_fit_mf_grid below",
    "log": "a callable or None", "cell": "a name among CELLS", "ids": "given per entry point",
    "params": "a dict of arrays: tests/test_faults.py", "grads": "likewise", "user": "per entry point",
    "item": "per entry point", "rating": "per entry point", "targets": "per entry point", "logits": "per entry",
    "mask": "per entry point", "pred": "per entry point", "target": "per entry point",
    "model": "a CharLM", "max_chars": "tests/test_charlm.py", "max_vocab": "tests/test_charlm.py", "sequence": "a flag", "progress": "a flag",
    "mf_grid": "test_fit_mf_grid below",
    "held_out": "tests/test_charlm.py",
}


# --------------------------------------------------------------------------- the entry points

def _layer_cases():
    """(label, make the object, the method, good kwargs, kinds that override BY_NAME) for the layers."""
    x = lambda dt: np.ones((B, T, D), dt)  # noqa: E731
    for cls in (LSTM, GRU, RNN, SLSTM, MinLSTM, MinGRU):
        lstm_style = cls is LSTM
        for dt in (np.float64, np.float32):
            def make(cls=cls, dt=dt):
                layer = cls(D, H, rng=0, dtype=dt)
                out, _, cache = layer.forward(x(dt))
                layer.backward(np.full_like(out, 0.5), cache)  # grads hold something to keep
                return layer
            state_kind = ("state", (B, H), dt)
            fwd = {"x": x(dt)}
            kinds = {"x": ("array", (B, T, D), dt), "h0": state_kind, "c0": state_kind, "mask": ("mask", (B, T))}
            yield f"{cls.__name__}.forward[{np.dtype(dt).name}]", make, "forward", fwd, kinds
            bwd_kinds = {"dout": ("array", (B, T, H), dt), "dh_T": state_kind, "dc_T": state_kind}
            yield (f"{cls.__name__}.backward[{np.dtype(dt).name}]", make, "backward",
                   {"dout": np.ones((B, T, H), dt), "cache": "FORWARD"}, bwd_kinds)
        yield f"{cls.__name__}()", None, cls, {"input_size": D, "hidden_size": H}, {}
    yield "VariantLSTM()", None, VariantLSTM, {"variant": "peephole", "input_size": D, "hidden_size": H}, {}


def _stack():
    return Stack.build("lstm", D, H, 2, rng=0, dropout=0.5)


def _charlm():
    return CharLM(7, lambda d, h, r: LSTM(d, h, rng=r), embed_dim=3, hidden_size=H, num_layers=2, dropout=0.3, rng=0)


def _mf():
    return MatrixFactorization(4, 5, 2, rng=0)


SMALL = make_synthetic(n_users=6, n_items=8, min_len=4, max_len=6, seed=0)
U_, I_, R_ = np.array([0, 1, 2, 3, 1]), np.array([0, 1, 2, 3, 4]), np.array([4.0, 3.0, 5.0, 1.0, 2.0])


def _cases():
    yield from _layer_cases()
    yield "Embedding()", None, Embedding, {"num": 5, "dim": 3}, {}
    yield "Dense()", None, Dense, {"in_features": 3, "out_features": 2}, {}
    yield ("Dense.forward", lambda: Dense(3, 2, rng=0), "forward", {"h": np.ones((B, 3))},
           {"h": ("array", (B, 3), np.float64)})
    yield ("Embedding.forward", lambda: Embedding(5, 3, rng=0), "forward", {"ids": np.zeros((B, T), np.int64)},
           {"ids": ("ids", (B, T), 5, "any shape")})
    yield "Stack.build", None, Stack.build, {"cell": "lstm", "input_size": D, "hidden_size": H, "num_layers": 2}, {}
    yield ("Stack.forward", _stack, "forward", {"x": np.ones((B, T, D))},
           {"x": ("array", (B, T, D), np.float64), "mask": ("mask", (B, T))})
    yield ("CharLM()", None, CharLM, {"V": 7, "make_layer": lambda d, h, r: LSTM(d, h, rng=r), "embed_dim": 3,
                                      "hidden_size": H, "num_layers": 2}, {})
    yield ("CharLM.loss", _charlm, "loss", {"ids": np.zeros((B, T), np.int64), "targets": np.ones((B, T), np.int64)},
           {"ids": ("ids", (B, T), 7), "targets": ("ids", (B, T), 7), "mask": ("mask", (B, T))})
    yield "evaluate_bpc", None, evaluate_bpc, {"model": _charlm(), "ids": np.arange(20) % 7}, {"ids": ("ids", (20,), 7)}
    yield "cosine_lr", None, cosine_lr, {"step": 1, "steps": 10, "lr": 0.1, "lr_final": 0.01}, {}
    yield "CharLMConfig()", None, CharLMConfig, {}, {}
    yield "SequenceConfig()", None, SequenceConfig, {}, {"dtype": "dtype_name"}
    yield "MatrixFactorization()", None, MatrixFactorization, {"num_users": 4, "num_items": 5, "factors": 2}, {}
    yield ("MatrixFactorization.fit", _mf, "fit", {"user": U_, "item": I_, "rating": R_, "epochs": 3,
                                                  "rng": np.random.default_rng(0)},
           {"user": ("ids", (5,), 4), "item": ("ids", (5,), 5), "rating": ("numbers", (5,), np.float64),
            "val": None})
    yield ("MatrixFactorization.predict", _mf, "predict", {"user": U_, "item": I_},
           {"user": ("ids", (5,), 4), "item": ("ids", (5,), 5)})
    yield ("fit_mf", None, fit_mf, {"num_users": 4, "num_items": 5, "train": (U_, I_, R_), "val": (U_, I_, R_),
                                   "grid": {"factors": (2,), "lr": (0.02,), "reg": (0.1,), "reg_bias": (0.01,)},
                                   "max_epochs": 2}, {"num_users": "count", "num_items": "count"})
    yield ("softmax_cross_entropy", None, softmax_cross_entropy,
           {"logits": np.zeros((B, 5)), "targets": np.zeros(B, np.int64)},
           {"logits": ("numbers", (B, 5), np.float64), "targets": ("ids", (B,), 5), "mask": ("mask", (B,))})
    yield ("masked_mse", None, masked_mse, {"pred": np.zeros((B, 5)), "target": np.ones((B, 5))},
           {"target": ("array", (B, 5), np.float64), "mask": ("mask", (B, 5))})
    yield "SGD()", None, SGD, {"params": {"a": np.ones(3)}}, {"momentum": "fraction"}
    yield "Adam()", None, Adam, {"params": {"a": np.ones(3)}}, {}
    yield "clip_grad_norm", None, clip_grad_norm, {"grads": {"a": np.ones(3)}, "max_norm": 1.0}, {}
    yield ("make_synthetic", None, make_synthetic, {"n_users": 5, "n_items": 8, "min_len": 2, "max_len": 4},
           {**dict.fromkeys(["n_users", "n_items", "min_len", "max_len", "n_groups"], "count"),
            "p_follow": "real", "effect": "real", "bias": "nonneg", "noise": "nonneg"})
    yield ("temporal_split", None, temporal_split, {"ratings": SMALL, "frac": 0.1},
           {"ratings": "object", "frac": "fraction"})
    yield ("run_protocol", None, run_protocol, {"ratings": SMALL, "sequence": False, "log": None,
                                                "mf_grid": {"factors": (1,)}},
           {"ratings": "object", "config": "object_or_none", "log": "callable_or_none", "base": "name"})


CASES = {label: rest for label, *rest in _cases()}


def _kinds(target, overrides):
    """parameter name -> kind (or None: not generated), for every parameter of ``target``'s signature."""
    out = {}
    for name in inspect.signature(target).parameters:
        if name in overrides:
            out[name] = overrides[name]
        elif name in BY_NAME:
            out[name] = BY_NAME[name]
        elif name in NOT_GENERATED:
            out[name] = None
        else:
            out[name] = "UNCOVERED"
    return out


def _target(make, method):
    obj = make() if make is not None else None
    return obj, (getattr(obj, method) if isinstance(method, str) else method)


def _generated():
    for label, (make, method, good, overrides) in CASES.items():
        _, target = _target(make, method)
        for name, kind in _kinds(target, overrides).items():
            if kind is None or kind == "UNCOVERED":
                continue
            for k, (value, error) in enumerate(bad_values(kind)):
                yield pytest.param(label, name, k, id=f"{label}-{name}-{_short(value)}")


def _short(v):
    if isinstance(v, np.ndarray):
        return f"{v.dtype}{v.shape}" + ("nan" if v.dtype.kind in "fc" and np.isnan(v).any() else "")
    return repr(v)[:20]


# --------------------------------------------------------------------------- byte-identical state


def fingerprint(*objects):
    """A hash of every array, generator state and plain value reachable from ``objects``."""
    h, seen = hashlib.sha256(), set()

    def walk(o):
        if isinstance(o, (str, bytes, int, float, complex, bool, type(None), np.generic, np.dtype)):
            h.update(repr(o).encode())
            return
        if id(o) in seen:
            return
        seen.add(id(o))
        if isinstance(o, np.random.Generator):
            h.update(repr(o.bit_generator.state).encode())
        elif isinstance(o, np.ndarray):
            h.update(f"{o.dtype.str}{o.shape}".encode())
            h.update(np.ascontiguousarray(o).tobytes())
        elif isinstance(o, dict):
            for k in sorted(o, key=str):
                h.update(repr(k).encode())
                walk(o[k])
        elif isinstance(o, (list, tuple)):
            for v in o:
                walk(v)
        elif hasattr(o, "__dict__") and not callable(o):
            walk(vars(o))
            if hasattr(o, "grads"):  # a property on stacks and models
                walk(o.grads)

    for o in objects:
        walk(o)
    return h.hexdigest()


@pytest.mark.parametrize("label, name, k", list(_generated()))
def test_bad_argument_is_the_documented_error_and_changes_nothing(label, name, k):
    make, method, good, overrides = CASES[label]
    obj, target = _target(make, method)
    value, error = bad_values(_kinds(target, overrides)[name])[k]
    kwargs = dict(good)
    if kwargs.get("cache") == "FORWARD":
        out, _, kwargs["cache"] = obj.forward(np.ones((B, T, D), obj.dtype))
        obj.backward(np.full_like(out, 0.25), kwargs["cache"])
    kwargs[name] = value
    before = fingerprint(obj, kwargs)
    with pytest.raises(error) as info:
        target(**kwargs)
    assert fingerprint(obj, kwargs) == before, f"state changed by a refused call ({info.value})"
    assert name.lower() in str(info.value).lower() or _names_it(name, info.value), \
        f"{info.value!r} does not name {name!r}"


def _names_it(name, e):
    """Some messages name the argument by what it is (h0 inside a pair, the grid's entries)."""
    aliases = {"h": "h", "V": "v", "user": "user", "item": "item", "step": "step", "ids": "ids"}
    return aliases.get(name, name).lower() in str(e).lower()


def test_every_parameter_of_every_entry_point_has_a_rule():
    uncovered = [f"{label}: {name}" for label, (make, method, _, overrides) in CASES.items()
                 for name, kind in _kinds(_target(make, method)[1], overrides).items() if kind == "UNCOVERED"]
    assert not uncovered, f"parameters without a rule in BY_NAME or NOT_GENERATED: {uncovered}"


def test_the_good_calls_succeed():
    """Control: each entry point's good arguments are accepted (so each bad call tests one argument)."""
    for label, (make, method, good, _) in CASES.items():
        obj, target = _target(make, method)
        kwargs = dict(good)
        if kwargs.get("cache") == "FORWARD":
            kwargs["cache"] = obj.forward(np.ones((B, T, D), obj.dtype))[2]
        target(**kwargs)


# --------------------------------------------------------------------------- calls that used to write, then refuse


def _grads(obj):
    return {k: v.copy() for k, v in obj.grads.items()}


@pytest.mark.parametrize("bad", ["nan_dh_T_layer0", "other_stack_cache_layer0", "short_dstate", "nan_dout"])
def test_stack_backward_is_all_or_nothing(bad):
    stack = _stack()
    x = np.random.default_rng(1).standard_normal((B, T, D))
    out, _, cache = stack.forward(x)
    stack.backward(np.full_like(out, 0.5), cache)
    dout, dstate = np.ones_like(out), None  # another dout: the later layers' grads would differ
    if bad == "nan_dh_T_layer0":
        dstate = [(np.full((B, H), np.nan), None), None]
    elif bad == "other_stack_cache_layer0":
        other = _stack()
        other.layers[0] = LSTM(D, H, rng=5)
        cache = cache._replace(caches=[other.layers[0].forward(x)[2], cache.caches[1]])
    elif bad == "short_dstate":
        dstate = [None]
    else:
        dout = _with(dout, np.nan)
    before = fingerprint(stack, cache)
    with pytest.raises((TypeError, ValueError)):
        stack.backward(dout, cache, dstate)
    assert fingerprint(stack, cache) == before


def test_stack_forward_refusing_a_later_layers_state_leaves_the_generator():
    stack = _stack()
    expected = _stack().forward(np.ones((B, T, D)))[0]
    with pytest.raises(ValueError, match="h0"):
        stack.forward(np.ones((B, T, D)), state=[None, (np.ones((B + 1, H)), None)])
    np.testing.assert_array_equal(stack.forward(np.ones((B, T, D)))[0], expected)  # the same masks as unrefused


def test_charlm_loss_refusing_targets_leaves_the_generator_and_backward_is_all_or_nothing():
    model, fresh = _charlm(), _charlm()
    ids = np.zeros((B, T), np.int64)
    with pytest.raises(ValueError, match="targets"):
        model.loss(ids, np.full((B, T), 7), train=True)  # 7 is out of range, found after the forward
    a, _, cache = model.loss(ids, ids, train=True)
    assert a == fresh.loss(ids, ids, train=True)[0]
    model.backward(cache)
    before = fingerprint(model)
    e_cache, s_cache, h_cache, dz = cache
    with pytest.raises(TypeError):  # the embedding (the last part) refuses after the head and stack wrote
        model.backward((e_cache.astype(np.int32), s_cache, h_cache, dz * 2))
    assert fingerprint(model) == before


def test_stack_refuses_one_layer_twice_and_shared_parameters():
    layer = LSTM(H, H, rng=0)
    with pytest.raises(ValueError, match="same object"):
        Stack([layer, layer])
    twin = LSTM(H, H, rng=1)
    twin.params = layer.params
    with pytest.raises(ValueError, match="share"):
        Stack([layer, twin])


def test_mf_fit_that_diverges_keeps_mu_parameters_and_the_generator():
    m, rng = _mf(), np.random.default_rng(3)
    m.mu = 1.25
    before = fingerprint(m, rng)
    with pytest.raises(ValueError, match="epoch"):
        m.fit(U_, I_, R_, lr=1e10, epochs=20, rng=rng)
    assert fingerprint(m, rng) == before


@pytest.mark.parametrize("grid, error", [({}, None), ({"factors": ()}, ValueError), ({"foo": (1,)}, ValueError),
                                         ({"lr": (float("nan"),)}, ValueError), ({"lr": 0.1}, TypeError),
                                         ({"factors": ("2",)}, TypeError), ([("lr", 1)], TypeError)])
def test_fit_mf_grid(grid, error):
    call = lambda: fit_mf(4, 5, (U_, I_, R_), (U_, I_, R_), grid=grid, max_epochs=1)  # noqa: E731
    if error is None:
        call()
    else:
        with pytest.raises(error):
            call()


def test_softmax_cross_entropy_of_logits_too_far_apart_is_an_overflow():
    logits = np.array([[3e38, -3e38]], np.float32)
    with pytest.raises(FloatingPointError, match="loss"):
        softmax_cross_entropy(logits, np.array([1]))
    assert math.isfinite(softmax_cross_entropy(logits.astype(np.float64), np.array([1]))[0])


def test_vocab_and_memory_messages():
    with pytest.raises(ValueError, match="memory"):
        LSTM(3, HUGE)
    with pytest.raises(ValueError, match="hidden_size"):
        SequenceConfig(hidden_size=10**6)
    assert Vocab.from_text("abca").decode([0, 1]) == "ab"


@pytest.mark.parametrize("argv, culprit", [
    (["textgen", "--text", "{bad}", "--quick", "--no-progress"], "not UTF-8 text: byte 3"),
    (["textgen", "--hidden", "1000000", "--quick", "--no-progress"], "hidden_size=1000000"),
    (["train", "--data", "synthetic", "--hidden-size", "1000000", "--out", "{tmp}/run"], "hidden_size=1000000"),
])
def test_cli_refuses_before_any_work_in_one_line(tmp_path, capsys, monkeypatch, argv, culprit):
    from lstm_np import cli
    from lstm_np.recommender import pipeline

    (tmp_path / "bad.txt").write_bytes(b"abc\xff\xfe def\n" * 10)
    monkeypatch.setattr(pipeline, "load_data", lambda *a, **k: pytest.fail("loaded data before refusing"))
    assert cli.main([a.format(bad=tmp_path / "bad.txt", tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and culprit in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.txt"]
