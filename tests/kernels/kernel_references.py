"""Plain per-document reference code for the kernel tests (the spec, literally), shared by
tests/kernels/test_profile.py, test_scoring.py and tests/kernels/selection/."""
from __future__ import annotations

import numpy as np


def reference_profile(nags, L, K, N, layers, power):
    """Per layer, per target, per index: count, raise, normalise (the spec, literally)."""
    w = np.zeros((L, N))
    for layer in layers:
        counts = {}
        for row in nags:
            for k in range(K):
                n = int(row[layer * K + k])
                counts[n] = counts.get(n, 0) + 1
        total = sum(c ** power for c in counts.values())
        for n, c in counts.items():
            w[layer, n] = c ** power / total
    return w


def reference_distance(nags, w, layers, K):
    out = []
    for row in nags:
        s = 0.0
        for layer in layers:
            for k in range(K):
                s += w[layer, int(row[layer * K + k])]
        out.append(1.0 - s / len(layers))
    return np.array(out)


def random_nags(rng, n, L, K, N):
    return np.stack([np.concatenate([rng.choice(N, K, replace=False) for _ in range(L)])
                     for _ in range(n)]).astype(np.int16)


def pandas_reference(key, docid, tokens, fraction):
    import pandas as pd

    df = pd.DataFrame({"k": key, "d": docid, "t": tokens, "i": np.arange(len(key))})
    df = df.sort_values(["k", "d"]).reset_index(drop=True)
    budget = int(np.floor(fraction * df.t.sum()))
    cum = df.t.cumsum()
    n = max(1, int((cum <= budget).sum()))
    return df.i.to_numpy()[:n], cum.to_numpy()[:n]
