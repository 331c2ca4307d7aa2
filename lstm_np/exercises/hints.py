"""Hints: the formula of each part (what a report quotes for a mistake it does not know), and the
step-by-step hints the notebook's learner opens on purpose with ``hint("lstm_backward", 1)``.

Each exercise has hints of increasing strength: the first says where to start,
the last gives every line. Nothing is printed unless asked for.
"""

from __future__ import annotations

__all__ = ["FORMULAS", "HINTS", "hint"]

#: The formula of each part, quoted by the report after "Expected:".
FORMULAS = {
    "lstm_forward": {
        "i": "i = sigma(z_i) with z = x Wx + h_prev Wh + b, z_i = z[:, 0:H]",
        "f": "f = sigma(z_f), z_f = z[:, H:2H]",
        "o": "o = sigma(z_o), z_o = z[:, 2H:3H]",
        "g": "g = tanh(z_g), z_g = z[:, 3H:4H]",
        "c": "c = f * c_prev + i * g",
        "h": "h = o * tanh(c)",
    },
    "lstm_backward": {
        "dz_i": "dz_i = dc * g * i * (1 - i), dc = dc_next + dh * o * (1 - tanh(c)^2)",
        "dz_f": "dz_f = dc * c_prev * f * (1 - f)",
        "dz_o": "dz_o = dh * tanh(c) * o * (1 - o)",
        "dz_g": "dz_g = dc * i * (1 - g^2)",
        "dc_prev": "dc_prev = dc * f",
        "dx": "dx = dz @ Wx.T",
        "dh_prev": "dh_prev = dz @ Wh.T",
        "dWx": "dWx = x.T @ dz",
        "dWh": "dWh = h_prev.T @ dz",
        "db": "db = dz.sum(axis=0)",
    },
    "gru_forward": {
        "r": "r = sigma(a_r + u_r) with a = x Wx + bx, u = h_prev Wh + bh",
        "z": "z = sigma(a_z + u_z)",
        "n": "n = tanh(a_n + r * u_n)",
        "u_n": "u_n = (h_prev Wh + bh)[:, 2H:3H]",
        "h": "h = (1 - z) * n + z * h_prev",
    },
    "gru_backward": {
        "da_r": "da_r = dr * r * (1 - r), dr = da_n * u_n",
        "da_z": "da_z = dz * z * (1 - z), dz = dh * (h_prev - n)",
        "da_n": "da_n = dn * (1 - n^2), dn = dh * (1 - z)",
        "du_r": "du_r = da_r",
        "du_z": "du_z = da_z",
        "du_n": "du_n = da_n * r",
        "dx": "dx = da @ Wx.T",
        "dh_prev": "dh_prev = du @ Wh.T + dh * z",
        "dWx": "dWx = x.T @ da",
        "dWh": "dWh = h_prev.T @ du",
        "dbx": "dbx = da.sum(axis=0)",
        "dbh": "dbh = du.sum(axis=0)",
    },
}

HINTS = {
    "lstm_backward": [
        "Work backwards through the forward lines, one at a time, from h = o * tanh(c) down to z = x Wx + h_prev Wh "
        "+ b. Each product a * b sends the gradient d * b to a and d * a to b.",
        "c reaches the loss along two paths: through h (h = o * tanh(c)) and through the next step's cell (dc_next). "
        "Their gradients add: dc = dc_next + (the path through h).",
        "The derivatives come from the stored outputs: sigma'(z) = s * (1 - s) for s = sigma(z), "
        "tanh'(z) = 1 - t^2 for t = tanh(z). dz has the gates' order i, f, o, g, like Wx, Wh and b.",
        "Every line:\n"
        "    do      = dh * tanh(c)\n"
        "    dc      = dc_next + dh * o * (1 - tanh(c)^2)\n"
        "    di, df, dg = dc * g, dc * c_prev, dc * i\n"
        "    dc_prev = dc * f\n"
        "    dz_i, dz_f = di * i * (1 - i), df * f * (1 - f)\n"
        "    dz_o, dz_g = do * o * (1 - o), dg * (1 - g^2)\n"
        "    dz = [dz_i, dz_f, dz_o, dz_g]                  (B, 4H)\n"
        "    dx, dh_prev = dz Wx^T, dz Wh^T                 (B, D), (B, H)\n"
        "    dWx, dWh, db = x^T dz, h_prev^T dz, sum over the batch of dz",
    ],
    "gru_backward": [
        "Start at h = (1 - z) * n + z * h_prev: it gives the gradients at n, at z and (directly) at h_prev.",
        "n = tanh(a_n + r * u_n): the gradient at its input, da_n, reaches a_n as it is, and u_n and r through the "
        "product. r and z see a + u, so the same gradient reaches a and u for them.",
        "Two fused gradients: da = [da_r, da_z, da_n] goes back through Wx and bx, du = [da_r, da_z, du_n] through Wh "
        "and bh; h_prev gets du Wh^T plus the direct path.",
        "Every line:\n"
        "    dn, dz = dh * (1 - z), dh * (h_prev - n)\n"
        "    da_n   = dn * (1 - n^2)\n"
        "    dr, du_n = da_n * u_n, da_n * r\n"
        "    da_r, da_z = dr * r * (1 - r), dz * z * (1 - z)\n"
        "    da, du = [da_r, da_z, da_n], [da_r, da_z, du_n]   (B, 3H) each\n"
        "    dx, dh_prev = da Wx^T, du Wh^T + dh * z\n"
        "    dWx, dWh = x^T da, h_prev^T du;  dbx, dbh = sums over the batch of da and du",
    ],
    "lstm_sequence": [
        "Run your step forward over t = 0, ..., T-1 keeping every cache; then go back from t = T-1 to 0.",
        "At step t the gradient at h_t is dout[:, t] plus what comes back from step t + 1 (its dh_prev); the gradient "
        "at c_t is what comes back from step t + 1 (its dc_prev). Start both from dh_T and dc_T (zeros if None).",
        "The weights are shared by every step: their gradients add over t.",
    ],
}


def hint(exercise, level=1):
    """Print hint number ``level`` (1 = where to start, the last = every line) of an exercise.

    Parameters
    ----------
    exercise : str
        ``"lstm_backward"``, ``"gru_backward"`` or ``"lstm_sequence"``.
    level : int
        1 to ``len(HINTS[exercise])``.
    """
    if exercise not in HINTS:
        raise ValueError(f"exercise must be one of {sorted(HINTS)}; got {exercise!r}")
    hints = HINTS[exercise]
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= len(hints):
        raise ValueError(f"level must be an int from 1 to {len(hints)}; got {level!r}")
    more = f" (hint {level + 1} says more)" if level < len(hints) else " (the last hint)"
    print(f"Hint {level} of {len(hints)} for {exercise}{more}:\n{hints[level - 1]}")
