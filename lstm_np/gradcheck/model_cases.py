"""The gradient-check cases of the applications' models: the character model, the next-item nets, BPR-MF.

Each function imports its application inside itself, so that importing
``lstm_np.gradcheck`` (or ``lstm_np``) never loads an application
(ARCHITECTURE.md: the one allowed upward import).
"""

from __future__ import annotations

import numpy as np

from ..sequence import LSTM


def _char_lm_case(rng, B=2, T=4, V=6, E=3, H=4):
    """The character model: Embedding -> 2-layer LSTM stack (dropout) -> Dense -> softmax cross-entropy."""
    from ..charlm import CharLM

    model = CharLM(V, lambda d, h, r: LSTM(d, h, rng=r), embed_dim=E, hidden_size=H, num_layers=2,
                   dropout=0.3, rng=rng)
    ids, targets = rng.integers(0, V, size=(B, T)), rng.integers(0, V, size=(B, T))
    drop = [(rng.random((B, T, H)) < 0.7) / 0.7]
    state0 = [(0.5 * rng.standard_normal((B, H)), 0.5 * rng.standard_normal((B, H))) for _ in range(2)]
    arrays = model.params

    def loss():
        return model.loss(ids, targets, state0, dropout_masks=drop)[0]

    model.backward(model.loss(ids, targets, state0, dropout_masks=drop)[2])
    return loss, arrays, {k: v.copy() for k, v in model.grads.items()}


def _next_item_case(rng, *, tied=False, cell="lstm", num_layers=1, B=3, T=5, I=7, E=4, H=4):
    """The next-item model: Embedding -> (dropout) -> recurrent layers (padding mask, initial state)
    -> (dropout) -> scores over I items (a dense head, or the embedding table when tied) -> masked cross-entropy."""
    from ..recommender.nextitem import NextItemConfig, NextItemNet

    cfg = NextItemConfig(cell=cell, embed_dim=E, hidden_size=H, num_layers=num_layers, tied=tied, dropout=0.3,
                         dtype="float64")
    net = NextItemNet(I, cfg, rng=rng)
    for v in net.params.values():
        v += 0.3 * rng.standard_normal(v.shape)  # biases away from their initial values
    ids, targets = rng.integers(0, I, size=(B, T)), rng.integers(0, I, size=(B, T))
    mask = np.ones((B, T))
    mask[0, 3:] = 0  # a shorter sequence (right padding, as in training)
    mask[2, 1:] = 0
    keep = 0.7
    drop = {"input": (rng.random((B, T, E)) < keep) / keep, "output": (rng.random((B, T, H)) < keep) / keep,
            "stack": [(rng.random((B, T, H)) < keep) / keep for _ in range(num_layers - 1)]}
    state0 = [(0.5 * rng.standard_normal((B, H)), 0.5 * rng.standard_normal((B, H))) if cell == "lstm"
              else 0.5 * rng.standard_normal((B, H)) for _ in range(num_layers)]
    arrays = net.params

    def loss():
        return net.loss(ids, targets, mask, state0, dropout_masks=drop)[0]

    net.backward(net.loss(ids, targets, mask, state0, dropout_masks=drop)[2])
    return loss, arrays, {k: v.copy() for k, v in net.grads.items()}


def _attentive_case(rng, *, score="additive", tied=True, B=3, T=5, I=7, H=4, window=3):
    """The next-item model with attention (``recommender.attentive``): a chunk that starts from a carried
    state (the LSTM's state and the keys of the previous chunk's last window - 1 steps, one of them padding),
    padded rows, dropout on the input and on [h, a]."""
    from ..recommender.attentive import AttentiveNextItemNet
    from ..recommender.nextitem import NextItemConfig

    cfg = NextItemConfig(embed_dim=H, hidden_size=H, tied=tied, dropout=0.3, dtype="float64", attention=score,
                         window=window, attn_size=3)
    net = AttentiveNextItemNet(I, cfg, rng=rng)
    for v in net.params.values():
        v += 0.3 * rng.standard_normal(v.shape)
    ids, targets = rng.integers(0, I, size=(B, T)), rng.integers(0, I, size=(B, T))
    mask = np.ones((B, T))
    mask[0, 3:] = 0
    mask[2, 1:] = 0
    keep = 0.7
    drop = {"input": (rng.random((B, T, H)) < keep) / keep, "output": (rng.random((B, T, 2 * H)) < keep) / keep}
    mem_mask = np.ones((B, window - 1))
    mem_mask[1, 0] = 0
    state0 = ([(0.5 * rng.standard_normal((B, H)), 0.5 * rng.standard_normal((B, H)))],
              rng.standard_normal((B, window - 1, H)), mem_mask)

    def loss():
        return net.loss(ids, targets, mask, state0, dropout_masks=drop)[0]

    net.backward(net.loss(ids, targets, mask, state0, dropout_masks=drop)[2])
    return loss, net.params, {k: v.copy() for k, v in net.grads.items()}


def _bpr_case(rng):
    """BPR-MF's pairwise loss (``recommender.ranking_baselines``), with users and items repeated in the batch."""
    from ..recommender.ranking_baselines import bpr_gradcheck_case

    return bpr_gradcheck_case(rng)
