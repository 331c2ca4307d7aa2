"""The character-level language model (lstm_np.charlm), its loss and its command."""

import math

import numpy as np
import pytest

from lstm_np.charlm import (
    UNKNOWN, BigramModel, CharLM, Vocab, evaluate_bpc, file_corpus, fit_bigram, layer_factory, split_held_out,
    stdlib_corpus, text_corpus, train_char_model,
)
from lstm_np.cli import main
from lstm_np.gradcheck import CASES, TOLERANCE, check_gradients
from lstm_np.losses import softmax_cross_entropy
from lstm_np.sequence import GRU, LSTM

TEXT = "def add(a, b):\n    return a + b\n\n" * 40


# ------------------------------------------------------------------ softmax cross-entropy


def test_softmax_cross_entropy_by_hand():
    logits = np.array([[0.0, math.log(3.0)], [2.0, 2.0]])  # p = (1/4, 3/4) and (1/2, 1/2)
    loss, d = softmax_cross_entropy(logits, np.array([1, 0]))
    assert loss == pytest.approx((-math.log(0.75) - math.log(0.5)) / 2, abs=1e-15)
    np.testing.assert_allclose(d, np.array([[0.25, -0.25], [-0.5, 0.5]]) / 2, atol=1e-15)


def test_softmax_cross_entropy_mask_leaves_positions_out():
    rng = np.random.default_rng(0)
    z, y = rng.standard_normal((2, 3, 4)), rng.integers(0, 4, (2, 3))
    mask = np.array([[1, 1, 0], [1, 0, 0]])
    loss, d = softmax_cross_entropy(z, y, mask)
    kept = mask.astype(bool)
    ref, dref = softmax_cross_entropy(z[kept], y[kept])
    assert loss == pytest.approx(ref, abs=1e-14)
    np.testing.assert_allclose(d[kept], dref, atol=1e-15)
    np.testing.assert_array_equal(d[~kept], 0.0)


def test_softmax_cross_entropy_gradient_check():
    errors = check_gradients(*CASES["softmax_ce"](np.random.default_rng(0)))
    assert errors["logits"] <= TOLERANCE


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    z = np.array([[1e4, 0.0, -1e4], [-1e300, 1e300, 0.0]])
    loss, d = softmax_cross_entropy(z, np.array([1, 1]))
    assert np.isfinite(loss) and np.isfinite(d).all()
    assert loss == pytest.approx(1e4 / 2, rel=1e-15)  # -log p[1] = 1e4 for the first row, 0 for the second
    # shifting every logit of a row by a constant changes nothing
    z = np.random.default_rng(1).standard_normal((3, 5))
    y = np.array([0, 4, 2])
    a, da = softmax_cross_entropy(z, y)
    b, db = softmax_cross_entropy(z + 1e6, y)
    assert a == pytest.approx(b, abs=1e-9)
    np.testing.assert_allclose(da, db, atol=1e-9)


def test_softmax_cross_entropy_bad_input():
    z = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"targets contains id 3; expected ids in \[0, 3\)"):
        softmax_cross_entropy(z, np.array([0, 3]))
    with pytest.raises(ValueError, match="targets has shape"):
        softmax_cross_entropy(z, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="mask selects no positions"):
        softmax_cross_entropy(z, np.array([0, 1]), mask=np.zeros(2))
    with pytest.raises(ValueError, match="NaN"):
        softmax_cross_entropy(np.array([[np.nan, 0.0]]), np.array([0]))
    with pytest.raises(TypeError, match="floating"):
        softmax_cross_entropy(np.zeros((2, 3), int), np.array([0, 1]))


# ------------------------------------------------------------------ corpus, vocabulary, bigram


def test_bigram_by_hand():
    # "abab" + "b": pairs ab, ba, ab, bb; V = 2 (a=0, b=1)
    vocab = Vocab.from_text("ababb")
    ids = vocab.encode("ababb")
    counts = BigramModel.count(ids, 2)
    np.testing.assert_array_equal(counts, [[0, 2], [1, 1]])
    model = BigramModel(counts, k=1.0)
    # P(b|a) = (2+1)/(2+2) = 3/4, P(a|b) = (1+1)/(2+2) = 1/2, P(b|b) = 1/2
    held = vocab.encode("abba")  # pairs ab, bb, ba
    assert model.bpc(held) == pytest.approx(-(math.log2(0.75) + math.log2(0.5) + math.log2(0.5)) / 3, abs=1e-15)


def test_bigram_k_is_tuned_on_the_training_part_only():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 5, 2000)
    model = fit_bigram(train, 5)
    counts = BigramModel.count(train[:1800], 5)
    best = min((1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0), key=lambda k: BigramModel(counts, k).bpc(train[1800:]))
    assert model.k == best
    np.testing.assert_array_equal(model.counts, BigramModel.count(train, 5))


def test_vocab_round_trip_and_cap():
    v = Vocab.from_text("hello world")
    assert v.chars == " dehlorw"
    assert v.decode(v.encode("hello")) == "hello"
    with pytest.raises(ValueError, match="'z' is not in the vocabulary"):
        v.encode("z")
    capped = Vocab.from_text("aaabbcd", max_size=3)  # keep a, b; c and d become U+FFFD
    assert capped.chars == "ab" + UNKNOWN
    assert capped.decode(capped.encode("abcz")) == "ab" + UNKNOWN * 2


def test_split_is_the_last_fraction():
    train, held = split_held_out(np.arange(100), 0.1)
    np.testing.assert_array_equal(held, np.arange(90, 100))
    np.testing.assert_array_equal(train, np.arange(90))
    with pytest.raises(ValueError, match="too short"):
        split_held_out(np.arange(5), 0.1)


def test_stdlib_corpus_is_sorted_skips_site_packages_and_records_a_checksum(tmp_path):
    (tmp_path / "b.py").write_text("bbb")
    (tmp_path / "a.py").write_text("aa")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text("mm")
    (tmp_path / "site-packages").mkdir()
    (tmp_path / "site-packages" / "x.py").write_text("xx")
    (tmp_path / "notes.txt").write_text("tt")
    c = stdlib_corpus(max_chars=None, root=tmp_path)
    assert c.text == "aa\nbbb\nmm\n" and c.files == 3
    # the order of the sorted relative paths: "-" < "." < "/"
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "z.py").write_text("Z")
    (tmp_path / "a-b.py").write_text("H")
    assert stdlib_corpus(max_chars=None, root=tmp_path).text == "H\naa\nZ\nbbb\nmm\n"
    import hashlib
    assert c.sha256 == hashlib.sha256(c.text.encode()).hexdigest()
    cut = stdlib_corpus(max_chars=5, root=tmp_path)
    assert cut.text == "H\naa\n" and cut.files == 2


def test_real_stdlib_corpus_is_read_offline():
    c = stdlib_corpus(max_chars=50_000)
    assert len(c.text) == 50_000 and c.files >= 1 and c.python.count(".") == 2
    assert stdlib_corpus(max_chars=50_000).sha256 == c.sha256
    import sysconfig
    assert sysconfig.get_paths()["stdlib"] not in c.describe()  # no local paths in printed output


def test_file_corpus(tmp_path):
    p = tmp_path / "t.txt"
    p.write_bytes("héllo\n".encode())
    assert file_corpus(p).text == "héllo\n"
    p.write_bytes("héllo\n".encode() + b"\xff")  # not UTF-8: refused, never read as replacement characters
    with pytest.raises(ValueError, match=r"not UTF-8 text: byte 7 \(line 2\)"):
        file_corpus(p)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        file_corpus(tmp_path / "missing.txt")


# ------------------------------------------------------------------ the model


def tiny_model(make=None, layers=2, seed=0):
    make = make or (lambda d, h, r: LSTM(d, h, rng=r))
    return CharLM(7, make, embed_dim=3, hidden_size=5, num_layers=layers, rng=seed)


def test_char_model_gradient_check():
    errors = check_gradients(*CASES["char_lm"](np.random.default_rng(0)))
    assert max(errors.values()) <= TOLERANCE, errors


@pytest.mark.parametrize("make", [None, lambda d, h, r: GRU(d, h, rng=r)])
def test_state_carried_between_chunks_equals_one_long_forward(make):
    model = tiny_model(make)
    ids = np.random.default_rng(0).integers(0, 7, (2, 9))
    z, state, _ = model.logits(ids)
    z1, s1, _ = model.logits(ids[:, :4])
    z2, s2, _ = model.logits(ids[:, 4:], s1)
    np.testing.assert_allclose(np.concatenate([z1, z2], axis=1), z, rtol=0, atol=1e-13)
    # and starting the second chunk from zeros instead is different: the carry matters
    assert not np.allclose(model.logits(ids[:, 4:])[0], z2)


def test_truncated_bptt_stops_at_the_chunk_boundary():
    # the gradient of the second chunk's loss is the same whether or not its initial
    # state came out of a first chunk: backward never reaches across
    model = tiny_model()
    ids = np.random.default_rng(0).integers(0, 7, (2, 8))
    _, s1, _ = model.logits(ids[:, :4])
    loss, _, cache = model.loss(ids[:, 4:7], ids[:, 5:8], s1)
    model.backward(cache)
    g = {k: v.copy() for k, v in model.grads.items()}
    state = [(h.copy(), c.copy()) for h, c in s1]
    model.backward(model.loss(ids[:, 4:7], ids[:, 5:8], state)[2])
    for k in g:
        np.testing.assert_array_equal(model.grads[k], g[k])


def test_evaluate_bpc_equals_one_long_stream():
    model = tiny_model()
    ids = np.random.default_rng(0).integers(0, 7, 30)
    z, _, _ = model.logits(ids[None, :-1])
    ref = softmax_cross_entropy(z[0], ids[1:])[0] / math.log(2)
    assert evaluate_bpc(model, ids, batch_size=1, seq_len=1000) == pytest.approx(ref, abs=1e-12)
    assert evaluate_bpc(model, ids, batch_size=1, seq_len=4) == pytest.approx(ref, abs=1e-12)
    # several streams, each from a zero state, with a padded tail: the mean over the same 29 positions
    streams = evaluate_bpc(model, ids, batch_size=4, seq_len=3)
    x = np.zeros(32, int)
    x[:29] = ids[:-1]
    zz, _, _ = model.logits(x.reshape(4, 8))
    per = -np.log2(np.exp(zz - zz.max(-1, keepdims=True)) / np.exp(zz - zz.max(-1, keepdims=True)).sum(-1,
                   keepdims=True))
    y = np.zeros(32, int)
    y[:29] = ids[1:]
    picked = np.take_along_axis(per.reshape(32, 7), y[:, None], 1)[:29, 0]
    assert streams == pytest.approx(picked.mean(), abs=1e-12)


def test_sampling_is_seeded_and_low_temperature_is_greedy():
    model = tiny_model()
    vocab = Vocab("abcdefg")
    a = model.sample(vocab, 40, temperature=1.0, rng=3)
    assert len(a) == 40 and set(a) <= set("abcdefg")
    assert model.sample(vocab, 40, temperature=1.0, rng=3) == a
    assert model.sample(vocab, 40, temperature=1.0, rng=4) != a
    # temperature -> 0: always the most likely next character
    z, state, _ = model.logits(vocab.encode("a")[None], None)
    expected = []
    for _ in range(10):
        nxt = int(np.argmax(z[0, -1]))
        expected.append(nxt)
        z, state, _ = model.logits(np.array([[nxt]]), state)
    assert model.sample(vocab, 10, temperature=1e-6, rng=5, prime="a") == vocab.decode(expected)
    assert len(set(expected)) > 1  # not a degenerate model that always says the same thing
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        model.sample(vocab, 5, temperature=0.0)


# ------------------------------------------------------------------ training


def test_training_is_reproducible_and_learns_a_repetitive_text():
    kw = dict(quick=True, steps=40, lr=1e-2, lr_final=1e-3, hidden_size=24, batch_size=4, seq_len=16,
              eval_every=20, sample_every=20)
    a = train_char_model("lstm", TEXT, seed=1, **kw)
    b = train_char_model(layer_factory("lstm"), TEXT, seed=1, **kw)
    assert a.bpc == b.bpc and a.samples == b.samples
    assert len(a.train_bpc) == 40 and len(a.history) == 2 and a.history[-1]["held_out_bpc"] == a.bpc
    assert a.bpc < math.log2(len(a.vocab))       # better than uniform guessing
    assert a.bpc < a.train_bpc[0]
    assert a.n_train + a.n_held == len(TEXT)
    c = train_char_model("lstm", TEXT, seed=2, **kw)
    assert c.bpc != a.bpc


def test_any_layer_with_the_interface_can_be_trained():
    made = []

    def make_gru(d, h, rng):
        made.append((d, h))
        return GRU(d, h, rng=rng)

    r = train_char_model(make_gru, TEXT, quick=True, num_layers=2, steps=3, dropout=0.2, sample_len=5)
    assert made == [(16, 32), (32, 32)]
    assert np.isfinite(r.bpc) and r.model.dtype == np.float64


def test_bad_settings_are_refused_before_anything_runs():
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        train_char_model("lstm", TEXT, hidden_size=0)
    with pytest.raises(TypeError, match="unknown settings"):
        train_char_model("lstm", TEXT, hiden_size=3)
    with pytest.raises(ValueError, match="too short for batch_size"):
        train_char_model("lstm", "abcdefgh" * 3, quick=True)
    with pytest.raises(ValueError, match="cell must be one of"):
        train_char_model("lstmm", TEXT)


# ------------------------------------------------------------------ the command


def test_textgen_command_quick(tmp_path, capsys):
    p = tmp_path / "t.txt"
    p.write_text(TEXT)
    assert main(["textgen", "--text", str(p), "--quick", "--no-progress", "--steps", "8", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "held-out bits per character: model" in out and "bigram" in out
    assert "--- sample at step 8" in out
    assert text_corpus(TEXT).sha256 in out


@pytest.mark.parametrize("argv, message", [
    (["--steps", "0"], "steps must be a positive integer"),
    (["--temperature", "-1"], "temperature must be a finite number > 0"),
    (["--dropout", "1.5"], "dropout must be in [0, 1)"),
    (["--text", "/no/such/file.txt"], "does not exist"),
    (["--hidden", "-4"], "hidden_size must be a positive integer"),
])
def test_textgen_bad_options_one_line_error_exit_2(tmp_path, capsys, argv, message):
    p = tmp_path / "t.txt"
    p.write_text(TEXT)
    argv = argv if "--text" in argv else ["--text", str(p), *argv]
    assert main(["textgen", "--quick", "--no-progress", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err


@pytest.mark.parametrize("argv, culprit", [
    (["--steps", "ten"], "--steps"), (["--lr", "nan"], "--lr"), (["--cell", "lstmm"], "--cell"),
    (["--seed", "-1"], "--seed"),
])
def test_textgen_unreadable_options_are_refused_by_the_parser(capsys, argv, culprit):
    with pytest.raises(SystemExit) as e:
        main(["textgen", "--quick", *argv])
    assert e.value.code == 2 and culprit in capsys.readouterr().err


def test_cosine_learning_rate_schedule():
    from lstm_np.charlm import cosine_lr

    assert cosine_lr(1, 100, 1e-2, 1e-4) == 1e-2
    assert cosine_lr(51, 100, 1e-2, 1e-4) == pytest.approx((1e-2 + 1e-4) / 2, rel=1e-12)
    lrs = [cosine_lr(t, 100, 1e-2, 1e-4) for t in range(1, 101)]
    assert all(a > b for a, b in zip(lrs, lrs[1:])) and lrs[-1] > 1e-4


# ------------------------------------------------------------------ the helpers refuse nonsense (issue 18)


@pytest.mark.parametrize("length, error, message", [
    (0, ValueError, r"length must be an integer in \[1, 1,000,000\]; got 0"),
    (-3, ValueError, "got -3"),
    (2.5, ValueError, "length must be a whole number given as an int; got 2.5"),
    (3.0, ValueError, "whole number given as an int"),
    ("5", TypeError, "length must be an integer; got str '5'"),
    (None, TypeError, "got NoneType"),
    (True, TypeError, "got bool"),
    (10**12, ValueError, "got 1000000000000"),
])
def test_sample_refuses_a_bad_length_before_drawing(length, error, message):
    model, vocab = tiny_model(), Vocab("abcdefg")
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    with pytest.raises(error, match=message):
        model.sample(vocab, length, rng=rng)
    assert rng.bit_generator.state == before  # nothing drawn
    assert len(model.sample(vocab, np.int64(3), rng=rng)) == 3


def test_sample_refuses_a_foreign_vocabulary_or_prime():
    model = tiny_model()
    with pytest.raises(ValueError, match="vocab has 3 characters; this model predicts V = 7"):
        model.sample(Vocab("abc"), 4)
    with pytest.raises(TypeError, match="vocab must be a charlm.Vocab; got str"):
        model.sample("abcdefg", 4)
    with pytest.raises(TypeError, match="prime must be a str; got int"):
        model.sample(Vocab("abcdefg"), 4, prime=5)


def test_decode_refuses_unknown_negative_and_non_integer_ids():
    vocab = Vocab("abc")
    assert vocab.decode([0, 2, 1]) == "acb" and vocab.decode(np.array([[2], [0]])) == "ca" and vocab.decode([]) == ""
    with pytest.raises(ValueError, match=r"contains id -1; expected ids in \[0, 3\)"):
        vocab.decode([-1])  # not the last character
    with pytest.raises(ValueError, match="contains id 3"):
        vocab.decode([0, 3])
    for bad in ([0.0, 1.0], "ab", None, [True]):
        with pytest.raises(TypeError):
            vocab.decode(bad)


@pytest.mark.parametrize("args, error, message", [
    ((0, 10, 1e-2, 1e-3), ValueError, r"step must be an integer in \[1, 10\]; got 0"),
    ((11, 10, 1e-2, 1e-3), ValueError, "got 11"),
    ((1, 0, 1e-2, 1e-3), ValueError, "steps must be an integer >= 1; got 0"),
    ((1.5, 10, 1e-2, 1e-3), ValueError, "step must be a whole number"),
    ((1, "10", 1e-2, 1e-3), TypeError, "steps must be an integer; got str"),
    ((1, 10, -1e-2, 1e-3), ValueError, "lr must be > 0"),
    ((1, 10, float("nan"), 1e-3), ValueError, "lr must be > 0 and finite; got nan"),
    ((1, 10, 1e-2, float("inf")), ValueError, "lr_final must be > 0 and finite"),
    ((1, 10, 1e-2, None), TypeError, "lr_final must be a real number"),
])
def test_cosine_lr_refuses_bad_arguments(args, error, message):
    from lstm_np.charlm import cosine_lr

    with pytest.raises(error, match=message):
        cosine_lr(*args)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"batch_size": 0}, ValueError, "batch_size must be an integer >= 1; got 0"),
    ({"seq_len": 0}, ValueError, "seq_len must be an integer >= 1; got 0"),
    ({"seq_len": -1}, ValueError, "seq_len must be an integer >= 1; got -1"),
    ({"seq_len": 2.5}, ValueError, "seq_len must be a whole number"),
    ({"batch_size": "8"}, TypeError, "batch_size must be an integer; got str"),
])
def test_evaluate_bpc_refuses_sizes_that_would_score_nothing(kwargs, error, message):
    model = tiny_model()
    ids = np.arange(20) % 7
    with pytest.raises(error, match=message):
        evaluate_bpc(model, ids, **kwargs)
    assert evaluate_bpc(model, ids, seq_len=1) == pytest.approx(evaluate_bpc(model, ids), abs=1e-12)  # chunks only


def test_sample_len_zero_trains_without_samples_and_the_same_numbers():
    common = dict(steps=4, hidden_size=8, embed_dim=4, batch_size=2, seq_len=8, eval_every=4, sample_every=4,
                  eval_chars=200, max_vocab=None, seed=1)
    none = train_char_model("lstm", TEXT, sample_len=0, **common)
    some = train_char_model("lstm", TEXT, sample_len=5, **common)
    assert none.samples == [] and len(some.samples[-1][1]) == 5
    assert none.bpc == some.bpc and none.train_bpc == some.train_bpc
    with pytest.raises(ValueError, match=r"sample_len must be an integer in \[0, 1,000,000\]"):
        train_char_model("lstm", TEXT, sample_len=10**7, **common)
