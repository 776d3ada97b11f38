"""MLflow tracking: every job is a run; runs can be compared side by side."""
from .runs import log_delta_table, start_run, tracking_uri

__all__ = ["log_delta_table", "start_run", "tracking_uri"]
