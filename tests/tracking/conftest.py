"""Hand-made rank runs for the comparison tests.

These runs are fabricated here, not produced by ``run_ranking``: each logs exactly what
docs/CONTRACT.md says a rank run logs (tag ``nag.kind=rank``, ``nag.output_path`` /
``nag.output_version`` / ``nag.pool_*`` tags, ``stats/distance_hist.json`` and
``stats/composition.json``) and writes a real selection table with the Delta layer, from
real pool documents with a seeded stand-in for the NAG distance. End-to-end tests with
real rank runs live in tests/jobs/test_compare_job.py.
"""
from __future__ import annotations

# The fixtures live in tests/rank_run_fixtures.py, shared with tests/spark/test_compare.py.
from rank_run_fixtures import make_rank_run, select_by_budget, small_pool  # noqa: F401
