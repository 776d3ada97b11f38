"""Hand-made rank runs for the comparison tests (imported by basename: ``tests`` is on the path).

These runs are fabricated here, not produced by ``run_ranking``: each logs exactly what
docs/CONTRACT.md says a rank run logs (tag ``nag.kind=rank``, ``nag.output_path`` /
``nag.output_version`` / ``nag.pool_*`` tags, ``stats/distance_hist.json`` and
``stats/composition.json``) and writes a real selection table with the Delta layer, from
real pool documents with a seeded stand-in for the NAG distance. End-to-end tests with
real rank runs live in tests/jobs/test_compare_job.py.

The fixtures ``small_pool`` and ``make_rank_run`` are registered where they are imported:
tests/tracking/conftest.py and tests/spark/test_compare.py.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def select_by_budget(pool: pd.DataFrame, fraction: float) -> pd.DataFrame:
    """The spec's token-budget prefix of the pool ordered by (nag_distance, docid)."""
    ordered = pool.sort_values(["nag_distance", "docid"]).reset_index(drop=True)
    budget = int(np.floor(fraction * ordered.token_num.sum()))
    cum = ordered.token_num.cumsum()
    keep = max(1, int((cum <= budget).sum()))
    out = ordered.iloc[:keep].copy()
    out["rank"] = np.arange(1, keep + 1, dtype=np.int64)
    out["cum_tokens"] = cum.iloc[:keep].astype(np.int64).to_numpy()
    return out


@pytest.fixture(scope="session")
def small_pool(shared_data) -> pd.DataFrame:
    """300 real pool documents (every 150th row): docid, dataset, token_num."""
    pool = pd.read_parquet(shared_data / "pool.parquet", columns=["docid", "dataset", "token_num"])
    return pool.iloc[::150].reset_index(drop=True)


@pytest.fixture(scope="session")
def make_rank_run(spark):
    """Factory: fabricate one rank run (see the module docstring); returns (run_id, selection)."""
    import mlflow

    from nag_spark.delta import table_version, write_table
    from nag_spark.tracking.runs import start_run

    def make(pool: pd.DataFrame, table: str, *, experiment: str, name: str, fraction: float,
             seed: int, target: str = "hellaswag", kind: str = "rank", pool_path: str = "pool",
             with_artifacts: bool = True):
        rng = np.random.default_rng(seed)
        scored = pool.assign(nag_distance=rng.uniform(0.5, 1.0, len(pool)))
        sel = select_by_budget(scored, fraction).assign(target=target)
        df = spark.createDataFrame(sel[["docid", "dataset", "token_num", "nag_distance", "rank",
                                        "cum_tokens", "target"]])
        version = write_table(df, table, mode="overwrite",
                              properties={"nag.kind": "selection", "nag.target": target,
                                          "nag.fraction": str(fraction)})
        assert version == table_version(table)
        edges = np.linspace(0.5, 1.0, 21)
        hist = {"edges": edges.tolist(),
                "counts": {d: np.histogram(g.nag_distance, edges)[0].tolist()
                           for d, g in scored.groupby("dataset")},
                "boundary": {target: float(sel.nag_distance.max())}}
        comp = {"pool": scored.groupby("dataset").token_num.sum().astype(int).to_dict(),
                "selected": {target: sel.groupby("dataset").token_num.sum().astype(int).to_dict()}}
        with start_run(kind, experiment=experiment, run_name=name) as run:
            mlflow.log_params({"target": target, "fraction": fraction, "seed": seed,
                               "layers": "all", "neuron_type": "fwd_up"})
            mlflow.log_metrics({"selected_docs": len(sel), "selected_tokens": int(sel.token_num.sum())})
            mlflow.set_tags({"nag.output_path": table, "nag.output_version": str(version),
                             "nag.pool_path": pool_path, "nag.pool_version": "0"})
            if with_artifacts:
                mlflow.log_dict(hist, "stats/distance_hist.json")
                mlflow.log_dict(comp, "stats/composition.json")
        return run.info.run_id, sel

    return make
