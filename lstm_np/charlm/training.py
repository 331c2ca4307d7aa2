"""Training a character model by truncated BPTT, and what a run returns.

A long text is cut into B contiguous streams, read T characters at a time.
Each chunk starts from the final state of the previous chunk of the same
stream (so the model sees the whole text as one long sequence), but
gradients stop at the chunk boundary: the state passed on is a plain array,
and ``backward`` is given no gradient at the final state.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np

from .._checks import as_int, as_scalar, check_fits_memory, check_sizes
from ..optim import Adam, clip_grad_norm
from .bigram import fit_bigram
from .corpus import DEFAULT_MAX_CHARS, Corpus, _check_max_chars, _sha256, stdlib_corpus, text_corpus
from .model import LN2, MAX_SAMPLE_LEN, CharLM, check_count, evaluate_bpc, layer_factory
from .vocab import Vocab, split_held_out

__all__ = ["CharLMConfig", "CharLMResult", "QUICK", "train_char_model", "cosine_lr"]


@dataclass
class CharLMConfig:
    """Settings of ``train_char_model`` (defaults: ``lstm-np textgen``)."""

    embed_dim: int = 32
    hidden_size: int = 256
    num_layers: int = 1
    dropout: float = 0.0
    batch_size: int = 16
    seq_len: int = 64
    steps: int = 3000
    lr: float = 6e-3
    lr_final: float = 3e-4          # cosine decay from lr to lr_final over the steps
    clip: float = 5.0
    held_out: float = 0.1
    max_chars: int | None = DEFAULT_MAX_CHARS
    max_vocab: int | None = 256
    eval_every: int = 500
    eval_chars: int = 20_000         # held-out characters scored during training (all at the end)
    sample_every: int = 500
    sample_len: int = 200
    temperature: float = 0.8
    seed: int = 0

    def __post_init__(self):
        _check_config(self)  # at the boundary: a bad setting is refused when the config is made


#: What ``quick=True`` changes: a run of a few seconds, for tests and CI.
QUICK = dict(embed_dim=16, hidden_size=32, batch_size=8, seq_len=32, steps=30, lr=1e-2, lr_final=1e-3,
             max_chars=20_000, eval_every=15, eval_chars=2_000, sample_every=15, sample_len=60)


@dataclass
class CharLMResult:
    """What ``train_char_model`` returns.

    Attributes
    ----------
    bpc : float
        Held-out bits per character of the trained model (all held-out text).
    bigram_bpc : float
        The bigram baseline's, on the same positions.
    bigram_k : float
        Its add-k smoothing constant (tuned on the training part).
    history : list of dict
        ``{"step", "train_bpc", "held_out_bpc"}`` at each evaluation
        (held-out on the first ``eval_chars`` held-out characters, except
        the last row, which is the final score on all of it).
    train_bpc : list of float
        Training loss in bits per character at every step.
    samples : list of (int, str)
        Generated text at the steps it was drawn (none when ``sample_len`` is 0).
    seconds_per_step, wall_s : float
        Mean training step time; the whole call.
    model : CharLM
    vocab : Vocab
    corpus : Corpus
    config : CharLMConfig
    n_train, n_held : int
        Characters in each part.
    """

    bpc: float
    bigram_bpc: float
    bigram_k: float
    history: list
    train_bpc: list
    samples: list
    seconds_per_step: float
    wall_s: float
    model: CharLM
    vocab: Vocab
    corpus: Corpus
    config: CharLMConfig
    n_train: int
    n_held: int

    def summary(self):
        """A few lines: corpus, sizes, held-out bpc against the bigram, time."""
        return "\n".join([
            f"corpus: {self.corpus.describe()}",
            f"vocabulary {len(self.vocab)}; {self.n_train:,} training / {self.n_held:,} held-out characters",
            f"held-out bits per character: model {self.bpc:.3f}, bigram {self.bigram_bpc:.3f} "
            f"(add-k, k={self.bigram_k:g}): the model is {abs(self.bigram_bpc - self.bpc):.3f} bits "
            + ("better" if self.bpc < self.bigram_bpc else "worse"),
            f"{self.config.steps} steps, {self.seconds_per_step * 1000:.0f} ms/step, {self.wall_s:.1f} s in all",
        ])


def _as_corpus(text_or_corpus, max_chars):
    if text_or_corpus is None:
        return stdlib_corpus(max_chars)
    if isinstance(text_or_corpus, Corpus):
        if max_chars is None or len(text_or_corpus.text) <= max_chars:
            return text_or_corpus
        text = text_or_corpus.text[:max_chars]
        return dataclasses.replace(text_or_corpus, text=text, sha256=_sha256(text))
    if isinstance(text_or_corpus, str):
        return text_corpus(text_or_corpus, max_chars)
    raise TypeError(f"text_or_corpus must be None, a str or a Corpus; got {type(text_or_corpus).__name__}")


def train_char_model(make_layer, text_or_corpus=None, *, quick=False, progress=False, log=None,
                     config=None, **settings):
    """Train a character-level language model and score it on held-out text.

    Parameters
    ----------
    make_layer : callable or {"lstm", "gru", "rnn"}
        ``make_layer(input_size, hidden_size, rng) -> layer``: any recurrent
        layer with the LSTM-style or GRU/RNN-style interface of
        ``lstm_np.sequence.stack`` (``forward(x, h0, c0, mask) -> out, (h,
        c), cache`` / ``backward(dout, cache, dh_T, dc_T) -> dx, dh0, dc0``,
        or ``forward(x, h0, mask) -> out, h, cache`` / ``backward(dout,
        cache, dh_T) -> dx, dh0``) and ``params``/``grads`` dicts. Its
        ``dtype`` attribute (float64 if absent) sets the model's. A name
        uses ``layer_factory(name)`` (float32).
    text_or_corpus : None, str or Corpus
        None: the standard library's source (``stdlib_corpus``); a str is
        the text itself (not a path: use ``file_corpus(path)``).
    quick : bool
        Start from the ``QUICK`` settings (a few seconds) instead of the
        defaults; explicit settings still win.
    progress : bool
        Show a tqdm progress bar.
    log : callable, optional
        Called with each line of progress text (evaluations, samples);
        nothing is printed when None.
    config : CharLMConfig, optional
        Start from these settings instead.
    **settings
        Any field of ``CharLMConfig``: ``hidden_size``, ``num_layers``,
        ``embed_dim``, ``dropout``, ``batch_size``, ``seq_len``, ``steps``,
        ``lr``, ``lr_final``, ``clip``, ``held_out``, ``max_chars``,
        ``max_vocab``, ``eval_every``, ``eval_chars``, ``sample_every``,
        ``sample_len``, ``temperature``, ``seed``.

    Returns
    -------
    CharLMResult
        ``.bpc`` (held-out bits per character) and ``.bigram_bpc`` among others.

    The same seed, settings and text give the same numbers.
    """
    t_start = time.perf_counter()
    if isinstance(make_layer, str):
        make_layer = layer_factory(make_layer)
    if not callable(make_layer):
        raise TypeError(f"make_layer must be callable or a cell name; got {type(make_layer).__name__}")
    base = config if config is not None else CharLMConfig(**(QUICK if quick else {}))
    unknown = sorted(set(settings) - {f.name for f in dataclasses.fields(CharLMConfig)})
    if unknown:
        raise TypeError(f"unknown settings {unknown}; see CharLMConfig")
    cfg = dataclasses.replace(base, **settings)
    _check_config(cfg)
    bar = None

    def say(line):
        if log is None:
            return
        if bar is None:
            log(line)
        else:  # print above the progress bar, not through it
            with bar.external_write_mode():
                log(line)

    corpus = _as_corpus(text_or_corpus, cfg.max_chars)
    vocab = Vocab.from_text(corpus.text, cfg.max_vocab)
    ids = vocab.encode(corpus.text)
    train_ids, held_ids = split_held_out(ids, cfg.held_out)
    V = len(vocab)
    bigram = fit_bigram(train_ids, V)
    bigram_bpc = bigram.bpc(held_ids)

    rng = np.random.default_rng(cfg.seed)
    model = CharLM(V, make_layer, embed_dim=cfg.embed_dim, hidden_size=cfg.hidden_size,
                   num_layers=cfg.num_layers, dropout=cfg.dropout, rng=rng)
    params = model.params
    opt = Adam(params, lr=cfg.lr)
    sample_rng = np.random.default_rng([cfg.seed, 1])

    # B contiguous streams of the training text; targets are inputs shifted by one.
    B, T = cfg.batch_size, cfg.seq_len
    Ls = (len(train_ids) - 1) // B
    if Ls < T:
        raise ValueError(f"the training text ({len(train_ids)} characters) is too short for batch_size {B} "
                         f"x seq_len {T}; pass a longer text or smaller settings")
    xs = train_ids[: B * Ls].reshape(B, Ls)
    ys = train_ids[1 : B * Ls + 1].reshape(B, Ls)
    eval_part = held_ids[: cfg.eval_chars]

    say(f"corpus: {corpus.describe()}")
    say(f"vocabulary {V}; {len(train_ids):,} training / {len(held_ids):,} held-out characters; "
        f"bigram held-out bpc {bigram_bpc:.3f} (k={bigram.k:g})")

    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=cfg.steps, desc="textgen", unit="step")

    history, train_bpc, samples = [], [], []
    state, p = None, 0
    t_train = 0.0
    try:
        for step in range(1, cfg.steps + 1):
            t0 = time.perf_counter()
            if p + T > Ls:  # end of the streams: start over from zero state
                state, p = None, 0
            opt.lr = cosine_lr(step, cfg.steps, cfg.lr, cfg.lr_final)
            try:
                loss, state, cache = model.loss(xs[:, p : p + T], ys[:, p : p + T], state, train=True)
                model.backward(cache)
                grads = model.grads
                clip_grad_norm(grads, cfg.clip)
                opt.step(grads)
            except FloatingPointError as e:  # the guard of every part, with where it happened
                raise FloatingPointError(f"training diverged at step {step} of {cfg.steps} (characters "
                                         f"{p} to {p + T} of each stream; lr {opt.lr:.3g}): {e}") from e
            p += T
            t_train += time.perf_counter() - t0
            train_bpc.append(loss / LN2)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(bpc=f"{loss / LN2:.3f}")
            if step % cfg.eval_every == 0 and step < cfg.steps:
                held = evaluate_bpc(model, eval_part)
                history.append({"step": step, "train_bpc": float(np.mean(train_bpc[-cfg.eval_every:])),
                                "held_out_bpc": held})
                say(f"step {step}: train bpc {history[-1]['train_bpc']:.3f}, held-out bpc {held:.3f} "
                    f"(first {len(eval_part):,} chars; bigram {bigram_bpc:.3f} on all)")
            if cfg.sample_len and step % cfg.sample_every == 0 and step < cfg.steps:
                text = model.sample(vocab, cfg.sample_len, temperature=cfg.temperature, rng=sample_rng)
                samples.append((step, text))
                say(f"--- sample at step {step} (temperature {cfg.temperature}) ---\n{text}\n---")
    finally:
        if bar is not None:
            bar.close()

    bpc = evaluate_bpc(model, held_ids)
    history.append({"step": cfg.steps, "train_bpc": float(np.mean(train_bpc[-cfg.eval_every:])),
                    "held_out_bpc": bpc})
    if cfg.sample_len:  # sample_len = 0: no samples at all
        text = model.sample(vocab, cfg.sample_len, temperature=cfg.temperature, rng=sample_rng)
        samples.append((cfg.steps, text))
        say(f"--- sample at step {cfg.steps} (temperature {cfg.temperature}) ---\n{text}\n---")
    return CharLMResult(
        bpc=bpc, bigram_bpc=bigram_bpc, bigram_k=bigram.k, history=history, train_bpc=train_bpc,
        samples=samples, seconds_per_step=t_train / cfg.steps, wall_s=time.perf_counter() - t_start,
        model=model, vocab=vocab, corpus=corpus, config=cfg, n_train=len(train_ids), n_held=len(held_ids),
    )


def cosine_lr(step, steps, lr, lr_final):
    """Learning rate of step 1 .. steps: from ``lr`` at step 1 down to about ``lr_final``, half a cosine.

    lr_t = lr_final + (lr - lr_final) (1 + cos(pi (t - 1) / steps)) / 2

    ``steps`` is a positive integer, ``step`` an integer in [1, steps], ``lr`` and ``lr_final`` finite
    numbers > 0; anything else is a TypeError (not a number) or a ValueError.
    """
    steps = check_count("steps", steps, 1)
    step = check_count("step", step, 1, steps)
    lr = as_scalar("lr", lr, low=0, low_open=True)
    lr_final = as_scalar("lr_final", lr_final, low=0, low_open=True)
    return lr_final + 0.5 * (lr - lr_final) * (1 + math.cos(math.pi * (step - 1) / steps))


def _number(name, v):
    """TypeError unless ``v`` is a real number (a str, None or a bool is not); ``v`` otherwise."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number; got {type(v).__name__} {v!r}")
    return v


def _check_config(cfg):
    """Raise naming the first bad setting (TypeError: not a number; ValueError: out of range); nothing has
    run yet."""
    positive = ("embed_dim", "hidden_size", "num_layers", "batch_size", "seq_len", "steps", "eval_every",
                "eval_chars", "sample_every")
    check_sizes(**{name: getattr(cfg, name) for name in positive})
    as_int("sample_len", cfg.sample_len, 0, MAX_SAMPLE_LEN)
    as_int("seed", cfg.seed, 0)
    for name in ("lr", "lr_final", "clip", "temperature"):
        v = _number(name, getattr(cfg, name))
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a finite number > 0; got {v!r}")
    if not 0 <= _number("dropout", cfg.dropout) < 1:
        raise ValueError(f"dropout must be in [0, 1); got {cfg.dropout!r}")
    if not (isinstance(_number("held_out", cfg.held_out), float) and 0 < cfg.held_out < 1):
        raise ValueError(f"held_out must be a fraction in (0, 1); got {cfg.held_out!r}")
    _check_max_chars(cfg.max_chars)
    if cfg.max_vocab is not None:
        as_int("max_vocab", cfg.max_vocab, 2)
    V, E, H, N = cfg.max_vocab or 1_114_112, cfg.embed_dim, cfg.hidden_size, cfg.num_layers
    B, T = cfg.batch_size, cfg.seq_len  # the weights, their gradients, Adam's buffers; a step's caches
    check_fits_memory(f"hidden_size={H}, embed_dim={E}, num_layers={N}",
                      4 * (4 * H * (E + H + 1) * N + V * E + (H + 1) * V))
    check_fits_memory(f"batch_size={B} x seq_len={T} (hidden_size={H}, num_layers={N})",
                      B * T * (10 * H * N + 2 * V + E))
