"""NAGs as sparse neuron-incidence vectors and their 2-D embedding; scikit-learn optional."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from nag_spark.analysis.nag_embedding import embed, nag_indicator_matrix, require_viz
from nag_spark.errors import ConfigError, InputError

L, K, N = 4, 3, 50


def test_nag_indicator_matrix_layout():
    m = nag_indicator_matrix([[1, 2, 0, 3], [1, 1, 4, 0]], num_layers=2, n_neurons=5)
    assert m.shape == (2, 10)
    # layer 1 entries are shifted by N = 5; a repeated index stays a single one.
    assert sorted(m[0].indices.tolist()) == [1, 2, 5, 8]
    assert m[1].toarray().ravel().tolist() == [0, 1, 0, 0, 0, 1, 0, 0, 0, 1]
    with pytest.raises(InputError, match="does not split into 3 layers"):
        nag_indicator_matrix([[1, 2, 3, 4]], num_layers=3)


def test_nag_indicator_matrix_refusals():
    with pytest.raises(InputError, match="no NAGs"):
        nag_indicator_matrix([], num_layers=2)
    with pytest.raises(InputError, match="different lengths"):
        nag_indicator_matrix([[1, 2], [1, 2, 3, 4]], num_layers=2)
    # N defaults to the largest index seen plus one
    assert nag_indicator_matrix([[0, 6]], num_layers=2).shape == (1, 14)


def test_embed_pca_and_tsne():
    rng = np.random.default_rng(0)
    m = nag_indicator_matrix([rng.choice(N, L * K) for _ in range(40)], num_layers=L, n_neurons=N)
    xy, used = embed(m, method="pca")
    assert used == "pca" and xy.shape == (40, 2)
    xy, used = embed(m, method="tsne", tsne_iter=250, seed=1)
    assert used == "tsne" and xy.shape == (40, 2) and np.isfinite(xy).all()
    with pytest.raises(ConfigError, match="unknown embedding method"):
        embed(m, method="mds")
    with pytest.raises(InputError, match="at least 3 NAGs"):
        embed(m[:2], method="pca")


def test_missing_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # `import sklearn` now fails
    with pytest.raises(ConfigError, match=r"scikit-learn.*pip install 'nag-spark\[viz\]'"):
        require_viz()
    with pytest.raises(ConfigError, match=r"nag-spark\[viz\]"):
        embed(np.eye(4), method="pca")
    with pytest.raises(ConfigError, match=r"nag-spark\[viz\]"):
        nag_indicator_matrix([[1, 2]], num_layers=2)
