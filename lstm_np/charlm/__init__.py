"""A character-level language model (char-rnn): read text, learn to predict the next character, write text.

The model, for a batch of B streams of T characters (ids x, targets y = x shifted by one)::

    e   = Embedding(x)                 (B, T, E)    one row per character id
    h   = Stack(e, state)              (B, T, H)    N recurrent layers, state carried
    z   = Dense(h)                     (B, T, V)    logits over the V characters
    loss = softmax_cross_entropy(z, y)              mean nats per character

and bits per character = loss / ln 2.

Truncated BPTT. A long text is cut into B contiguous streams, read T
characters at a time. Each chunk starts from the final state of the previous
chunk of the same stream (so the model sees the whole text as one long
sequence), but gradients stop at the chunk boundary: the state passed on is
a plain array, and ``backward`` is given no gradient at the final state.

The baseline is a count-based bigram model, P(b | a) = (C[a, b] + k) /
(C[a, :] + k V), fitted on the same training part and scored on the same
held-out characters.

Corpus. Without a file, the text is the Python standard library's own
source (``stdlib_corpus``): the ``.py`` files under
``sysconfig.get_paths()["stdlib"]`` (site-packages excluded), sorted by
path, read as UTF-8, concatenated up to ``max_chars`` characters. Every
installation has it, so it works offline, but it differs between Python
versions: the SHA-256 of the text read is recorded (``Corpus.sha256``) with
the Python version, so that a number can be reproduced exactly.

The layers. ``train_char_model`` takes ``make_layer(input_size,
hidden_size, rng)``, which returns any layer with the interface of
``lstm_np.sequence.stack`` (LSTM-style with a cell state, or GRU/RNN-style),
so cell variants can be compared on the same task::

    from lstm_np.charlm import train_char_model, layer_factory
    result = train_char_model(layer_factory("lstm"), None, quick=True, seed=0)
    result.bpc, result.bigram_bpc

Modules: ``corpus`` (the text and its checksum), ``vocab`` (characters <->
ids, the held-out split), ``bigram`` (the baseline), ``model`` (``CharLM``,
sampling, ``evaluate_bpc``), ``training`` (``train_char_model`` and its
settings). Every public name is importable from ``lstm_np.charlm``.
"""

from .bigram import BIGRAM_KS, BigramModel, fit_bigram
from .corpus import DEFAULT_MAX_CHARS, Corpus, file_corpus, stdlib_corpus, text_corpus
from .model import LN2, MAX_SAMPLE_LEN, CharLM, evaluate_bpc, layer_factory
from .training import QUICK, CharLMConfig, CharLMResult, cosine_lr, train_char_model
from .vocab import UNKNOWN, Vocab, split_held_out

__all__ = [
    "Corpus", "stdlib_corpus", "file_corpus", "text_corpus", "Vocab", "split_held_out",
    "BigramModel", "fit_bigram", "CharLM", "evaluate_bpc", "layer_factory",
    "CharLMConfig", "CharLMResult", "train_char_model", "DEFAULT_MAX_CHARS",
    "QUICK", "cosine_lr", "UNKNOWN", "LN2", "BIGRAM_KS", "MAX_SAMPLE_LEN",
]
