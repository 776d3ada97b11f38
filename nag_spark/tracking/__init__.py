"""MLflow tracking: every job is a run; runs can be compared side by side.

:mod:`.schema` names every tag and artifact; :mod:`.runs` starts runs and records values;
``*_run`` modules record one job kind each; :mod:`.compare` is the MLflow side of a run
comparison. Nothing here imports the Spark layer: the jobs compute, tracking records.
"""
from .runs import log_delta_table, start_run, tracking_uri

__all__ = ["log_delta_table", "start_run", "tracking_uri"]
