"""The properties of a baseline selection table (``jobs/select.py``).

Same columns as a ranking's selection (:mod:`.selection`) plus ``score``, and properties in
the same style: kind ``selection``, target, fraction, the MLflow run, the pool read; then the
baseline's own: its method, the order key, the target table and the method's settings
(``nag.<setting>``, e.g. ``nag.seed``, ``nag.dsir_length_norm``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from .features import KIND_KEY
from .selection import KIND

#: How a baseline's score becomes the ascending order key ``nag_distance``.
ORDER_KEY = "nag_distance = (max score - score) / (max score - min score)"


@dataclass(frozen=True)
class BaselineSelectionProperties:
    """How a baseline selection was made (its table properties).

    >>> p = BaselineSelectionProperties("bm25", "hellaswag", "dataset in (h)", 0.2, "r1",
    ...                                 "/pool", None, "/t", {"bm25_k1": 1.5, "x": True})
    >>> props = p.to_properties()
    >>> props["nag.method"], props["nag.pool_version"], props["nag.bm25_k1"], props["nag.x"]
    ('bm25', '', '1.5', 'true')
    """

    method: str
    target: str
    target_filter: str
    fraction: float
    mlflow_run_id: str | None
    pool_table: str
    pool_version: int | None
    target_table: str
    settings: Mapping[str, object] = field(default_factory=dict)

    def to_properties(self) -> dict[str, str]:
        props = {KIND_KEY: KIND, "nag.target": self.target, "nag.target_filter": self.target_filter,
                 "nag.fraction": str(self.fraction), "nag.method": self.method,
                 "nag.mlflow_run_id": self.mlflow_run_id or "", "nag.pool_table": str(self.pool_table),
                 "nag.pool_version": "" if self.pool_version is None else str(self.pool_version),
                 "nag.target_table": str(self.target_table), "nag.order_key": ORDER_KEY}
        for k, v in self.settings.items():
            props.setdefault(f"nag.{k}", str(v).lower() if isinstance(v, bool) else str(v))
        return props
