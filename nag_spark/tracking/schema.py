"""Every MLflow tag and artifact name nag-spark writes, shared by the writers and the
comparison reader (change a name here and both sides follow).

Run kinds (tag :data:`KIND_TAG`): ``extract``, ``rank``, ``compare``, ``visualize``,
``deactivate``.
"""
from __future__ import annotations

import re
from typing import Sequence

# ---------------------------------------------------------------- tags on every run
KIND_TAG = "nag.kind"
VERSION_TAG = "nag.version"
OWNER_TAG = "nag.owner"               # "<host>:<pid>:<start>": who runs it (dead owner: FAILED)
TABLE_TAG_PREFIX = "nag.table."       # nag.table.<context> = "<path>@v<version>"

# ---------------------------------------------------------------- run-specific tags
INPUT_PATH_TAG = "nag.input_path"     # extract runs whose input is not a Delta table
OUTPUT_PATH_TAG = "nag.output_path"
OUTPUT_VERSION_TAG = "nag.output_version"
POOL_PATH_TAG = "nag.pool_path"
POOL_VERSION_TAG = "nag.pool_version"
TARGET_TAG = "nag.target"
FEATURES_PATH_TAG = "nag.features_path"
FEATURES_VERSION_TAG = "nag.features_version"
COMPARED_RUNS_TAG = "nag.compared_runs"
METHOD_TAG = "nag.method"             # select runs: the baseline (random, dsir, bm25, embedding)
# evaluate runs (tracking/evaluate_run.py) and the selection runs they tag back
SELECTION_RUNS_TAG = "nag.selection_runs"
EVAL_SETS_TAG = "nag.eval"
EVALUATED_BY_TAG = "nag.evaluated_by"
EVALUATION_TAG_PREFIX = "nag.evaluation."   # nag.evaluation.<eval> = "<mean>±<std> nats (...)"

# ---------------------------------------------------------------- artifacts
PROFILE_DIR = "profile"               # profile.npz, profile_<target>.npz
PLOTS_DIR = "plots"                   # PNG figures
STATS_DIR = "stats"
HIST_ARTIFACT = "stats/distance_hist.json"
COMPOSITION_ARTIFACT = "stats/composition.json"
NEURONS_DIR = "neurons"               # deactivate runs: neurons.json
COMPARE_DIR = "compare"               # compare runs: the report folder


def table_tag(context: str) -> str:
    """The tag recording a Delta table a run read or wrote (``input``, ``output``, ...)."""
    return TABLE_TAG_PREFIX + context


def target_key_parts(names: Sequence[str]) -> list[str]:
    """Each target's name as it may appear in a metric or artifact name.

    Inline targets are filters such as ``dataset=books``; MLflow refuses ``=`` (and ``,``)
    in metric names and ``/`` would make an artifact path, so other characters become
    ``_``. Two names that clash after that get ``_2``, ``_3``, ... so no metric is overwritten.

    >>> target_key_parts(["hellaswag", "dataset=books", "dataset_books"])
    ['hellaswag', 'dataset_books', 'dataset_books_2']
    """
    parts: list[str] = []
    for name in names:
        part = re.sub(r"[^\w.\- ]", "_", str(name)).strip(". ") or "target"
        base, n = part, 1
        while part in parts:
            n += 1
            part = f"{base}_{n}"
        parts.append(part)
    return parts
