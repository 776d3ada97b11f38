"""Matplotlib figures of nag-spark: pure functions, arrays or dicts in, a PNG path out.

They use the Agg backend (no display needed) and never touch Spark or MLflow, so the
ranking job, the comparison report, the notebooks and the tests all draw the same figures.
"""
from .composition import plot_composition
from .distance import plot_distance_histogram, plot_distance_overlay
from .montage import plot_montage
from .nag_map import plot_nag_map
from .overlap import plot_jaccard
from .profile import plot_profile_concentration, plot_profile_heatmap, profile_concentration

__all__ = [
    "plot_composition",
    "plot_distance_histogram",
    "plot_distance_overlay",
    "plot_jaccard",
    "plot_montage",
    "plot_nag_map",
    "plot_profile_concentration",
    "plot_profile_heatmap",
    "profile_concentration",
]
