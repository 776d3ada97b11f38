"""The selection table contract: its columns and its properties.

Ranking writes one row per selected document and target: ``docid``, ``dataset``,
``token_num``, ``nag_distance``, [``quality``, ``combined_score``], ``rank`` (1-based within
its target), ``cum_tokens``, ``target``, then any payload columns asked for. The properties
say how it was selected and from which pool version; the model lineage is copied from the
features table.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from .features import KIND_KEY, model_properties

KIND = "selection"
# Properties other jobs read back (jobs/evaluate.py: which targets, which rank run).
TARGET_KEY = "nag.target"
RUN_ID_KEY = "nag.mlflow_run_id"

# Columns of every selection table, in order (the quality pair only with a quality blend).
SELECTION_COLUMNS = ("docid", "dataset", "token_num", "nag_distance", "quality",
                     "combined_score", "rank", "cum_tokens", "target")


def selection_columns(with_quality: bool) -> list[str]:
    """The selection's own columns, in order, before the target and payload columns.

    >>> selection_columns(False)
    ['docid', 'dataset', 'token_num', 'nag_distance', 'rank', 'cum_tokens']
    """
    return [c for c in SELECTION_COLUMNS
            if c != "target" and (with_quality or c not in ("quality", "combined_score"))]


def clashing_payload(payload_cols: Sequence[str]) -> list[str]:
    """Payload columns that would overwrite a selection column."""
    return [c for c in payload_cols if c in SELECTION_COLUMNS]


@dataclass(frozen=True)
class SelectionProperties:
    """How a selection was made (its table properties)."""

    targets: Sequence[str]
    fraction: float
    layers: str
    power: float
    neuron_type: str
    profile_digests: Sequence[str]
    mlflow_run_id: str
    pool_table: str
    pool_version: int
    dedupe: bool = False
    quality_col: str | None = None
    invert_quality: bool = False
    pool_properties: Mapping[str, str] = field(default_factory=dict)
    # The ranking's profile levers (``--profile-weighting``, ``--top-k``); None: not a NAG
    # ranking's selection, the keys are left out.
    profile_weighting: str | None = None
    score_top_k: int | None = None

    def to_properties(self) -> dict[str, str]:
        """The table properties; the pool's model lineage keys are copied after ours.

        >>> p = SelectionProperties(["hellaswag"], 0.2, "all", 1.0, "fwd_up", ["ab"], "r1",
        ...                         "/pool", 3, pool_properties={"nag.model": "m"})
        >>> p.to_properties()["nag.pool_version"], p.to_properties()["nag.model"]
        ('3', 'm')
        """
        props = {KIND_KEY: KIND, TARGET_KEY: ",".join(self.targets),
                 "nag.fraction": str(self.fraction), "nag.layers": self.layers,
                 "nag.power": str(self.power), "nag.neuron_type": self.neuron_type,
                 "nag.profile_digest": ",".join(self.profile_digests),
                 RUN_ID_KEY: self.mlflow_run_id, "nag.pool_table": str(self.pool_table),
                 "nag.pool_version": str(self.pool_version),
                 "nag.dedupe": str(self.dedupe).lower()}
        if self.profile_weighting is not None:
            props["nag.profile_weighting"] = self.profile_weighting
        if self.score_top_k is not None:
            # Not nag.top_k: that key is the features' K, copied from the pool below.
            props["nag.score_top_k"] = str(self.score_top_k)
        if self.quality_col:
            props.update({"nag.quality_col": self.quality_col,
                          "nag.invert_quality": str(self.invert_quality).lower()})
        for k, v in model_properties(self.pool_properties).items():
            props.setdefault(k, v)
        return props
