"""NAGs as points in 2-D: a binary neuron-incidence matrix, then PCA and t-SNE (or UMAP).

Each NAG (an L×K matrix of neuron indices) is read as a sparse binary vector of length
L·N with a one at ``l·N + idx[l, k]``: two documents are close when they activate the
same neurons in the same layers. The vectors go through PCA (a truncated SVD, which works
on the sparse matrix directly) and then t-SNE (or UMAP when ``umap-learn`` is installed
and asked for), as in the NAG paper's visualisation.

scikit-learn (and the scipy it brings) is an optional dependency: ``pip install
'nag-spark[viz]'``. :func:`require_viz` says so clearly where it is missing.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import ConfigError, InputError

METHODS = ("auto", "tsne", "umap", "pca")
VIZ_INSTALL = "pip install 'nag-spark[viz]'"


def require_viz() -> None:
    """Refuse early, with the install line, when scikit-learn or scipy is missing.

    Raises
    ------
    ConfigError
        Naming ``pip install 'nag-spark[viz]'``.
    """
    try:
        import scipy.sparse  # noqa: F401
        import sklearn  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"the NAG map needs scikit-learn, an optional dependency of nag-spark: "
                          f"{VIZ_INSTALL} ({exc})") from None


def nag_indicator_matrix(nags: Sequence, num_layers: int, n_neurons: int | None = None):
    """The NAGs as a sparse binary CSR matrix of shape (n, L·N): row ``i`` has a one at
    ``l·N + idx`` for every neuron ``idx`` of layer ``l`` in NAG ``i``.

    ``nags`` holds flat layer-major arrays of L·K indices. ``n_neurons`` defaults to the
    largest index seen plus one (enough for an embedding, which only needs distinct columns).
    (Not the NAG decoder :func:`~nag_spark.tables.nag_codec.decode_nags`, which gives the
    dense ``(n, L·K)`` index matrix.)

    Examples
    --------
    >>> m = nag_indicator_matrix([[1, 2, 0, 3]], num_layers=2, n_neurons=4)
    >>> m.shape, m.indices.tolist()
    ((1, 8), [1, 2, 4, 7])
    """
    require_viz()
    from scipy import sparse

    arrs = [np.asarray(a, dtype=np.int64).ravel() for a in nags]
    if not arrs:
        raise InputError("no NAGs to embed")
    width = arrs[0].size
    if width == 0 or width % num_layers:
        raise InputError(f"a NAG of {width} indices does not split into {num_layers} layers")
    if any(a.size != width for a in arrs):
        raise InputError("NAGs of different lengths in one column")
    idx = np.stack(arrs)
    top_k = width // num_layers
    n = int(n_neurons) if n_neurons else int(idx.max()) + 1
    layer = np.repeat(np.arange(num_layers), top_k)[None, :]
    cols = (layer * n + idx).ravel()
    rows = np.repeat(np.arange(len(arrs)), width)
    mat = sparse.csr_matrix((np.ones(cols.size, dtype=np.float32), (rows, cols)),
                            shape=(len(arrs), num_layers * n))
    mat.data[:] = 1.0  # a repeated index in one layer (should not happen) stays binary
    return mat


def _umap(reduced: np.ndarray, method: str, seed: int):
    """UMAP coordinates, or None when ``auto`` finds no umap-learn."""
    try:
        import umap  # noqa: F401  (optional dependency)
    except ImportError:
        if method == "umap":
            raise ConfigError("method 'umap' needs the umap-learn package: pip install umap-learn")
        return None
    reducer = umap.UMAP(n_components=2, random_state=seed, n_neighbors=min(15, reduced.shape[0] - 1))
    return np.asarray(reducer.fit_transform(reduced))


def embed(matrix, *, method: str = "auto", seed: int = 0, pca_components: int = 50,
          tsne_iter: int = 500, perplexity: float = 30.0) -> tuple[np.ndarray, str]:
    """2-D coordinates of the rows of ``matrix``: PCA (truncated SVD), then t-SNE or UMAP.

    ``method``: ``auto`` (UMAP when importable, else t-SNE), ``tsne``, ``umap`` or ``pca``
    (the first two components only: fast, for huge samples or smoke tests).

    Returns
    -------
    (ndarray of shape (n, 2), str)
        The coordinates and the method used.
    """
    require_viz()
    from sklearn.decomposition import TruncatedSVD

    if method not in METHODS:
        raise ConfigError(f"unknown embedding method {method!r}; choose one of {', '.join(METHODS)}")
    n = matrix.shape[0]
    if n < 3:
        raise InputError(f"need at least 3 NAGs for a 2-D map, got {n}")
    k = int(max(2, min(pca_components, n - 1, matrix.shape[1] - 1)))
    reduced = TruncatedSVD(n_components=k, random_state=seed).fit_transform(matrix)
    if method == "pca":
        return reduced[:, :2], "pca"
    if method in ("auto", "umap"):
        coords = _umap(reduced, method, seed)
        if coords is not None:
            return coords, "umap"
    from sklearn.manifold import TSNE

    # The first 250 iterations are early exaggeration; fewer than ~250 more leave the map
    # collapsed in one blob, so 500 is the floor.
    tsne = TSNE(n_components=2, perplexity=float(min(perplexity, max(1.0, (n - 1) / 3))),
                init="pca", random_state=seed, max_iter=max(500, int(tsne_iter)))
    return tsne.fit_transform(reduced), "tsne"
