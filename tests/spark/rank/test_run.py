"""The ranking's story (spark/rank/run.py): what one run writes, returns, logs and records."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from rank_fixtures import FAST, LINEAGE, assert_same_selection, read_delta, reference, synthetic_pool, write_features  # noqa: E402,E501

from nag_spark.spark.rank import RankOptions, run_ranking  # noqa: E402
from nag_spark.tables.selection import SelectionProperties  # noqa: E402


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append((record.name, record.getMessage()))


def test_one_run_writes_returns_logs_and_records_its_selection(spark, tmp_path, mlflow_uri):
    import mlflow

    from nag_spark.delta import table_properties, table_version

    pdf = synthetic_pool(150, seed=21)
    target = synthetic_pool(30, seed=22).assign(dataset="hellaswag_train", docid=lambda d: "t" + d.docid)
    # Packed NAGs, as extraction writes them (a pool of the older array layout adds a log
    # line naming jobs/repack.py).
    pool_path = write_features(spark, pdf, str(tmp_path / "pool"), partitions=2, layout="bits4")
    target_path = write_features(spark, target, str(tmp_path / "targets"), partitions=1,
                                 layout="bits4")
    out = str(tmp_path / "sel")
    lines, logger = _Lines(), logging.getLogger("nag_spark")
    logger.addHandler(lines)
    try:
        res = run_ranking(spark, RankOptions(targets=["hellaswag"], pool=pool_path,
                                             target_features=target_path, output=out,
                                             fraction=0.25, power=2.0, experiment="rank-tests",
                                             run_name="story", **FAST))
    finally:
        logger.removeHandler(lines)
    got = read_delta(out)
    assert len(got) == res.targets[0].selected_docs and res.pool_docs == len(pdf)
    assert res.pool_tokens == int(pdf.token_num.sum()) and res.excluded_target_rows == 0
    assert res.targets[0].selected_tokens == int(got.token_num.sum()) <= res.targets[0].budget
    assert set(res.timings) == {"profile", "score_and_stats", "select", "write", "report", "total"}
    assert res.output_version == table_version(out, spark)
    # The selection's properties are exactly what the table contract builds.
    props = table_properties(out)
    assert props == SelectionProperties(
        ["hellaswag"], 0.25, "all", 2.0, "fwd_up", [res.targets[0].profile_digest], res.run_id,
        pool_path, table_version(pool_path, spark), pool_properties=LINEAGE,
        profile_weighting="paper", score_top_k=3).to_properties()
    # The job's own log lines come from one logger, as before the package split; a local
    # table is scanned in the Python workers (--scan auto), and the log says so.
    ours = [m for name, m in lines.lines if name == "nag_spark.spark.rank"]
    assert res.scan == "direct"
    assert ours == [f"scanning pool {pool_path}@v{table_version(pool_path, spark)} in the Python "
                    "workers: 150 rows in 2 files, 2 tasks",
                    "the pool's numbers came from the scan; rows handed to the selection: key "
                    "bins up to hellaswag 15 of 64 (1 scan of the pool)",
                    f"selected hellaswag: {len(got)} docs/{int(got.token_num.sum())} tokens "
                    f"into {out}@v{res.output_version}"]
    run = mlflow.get_run(res.run_id)
    assert run.info.run_name == "story" and run.info.status == "FINISHED"
    assert run.data.tags["nag.pool_path"] == pool_path and run.data.tags["nag.output_path"] == out
    assert {i.dataset.name for i in run.inputs.dataset_inputs} == {"pool", "target", "selection"}
    assert run.data.params["power"] == "2.0" and run.data.params["fraction_per_target"] == "0.25"
    assert run.data.params["scan"] == "auto" and run.data.params["scan_used"] == "direct"


def test_a_two_target_run_without_dedupe_equals_the_reference(spark, tmp_path, mlflow_uri):
    pdf = synthetic_pool(200, seed=23)
    path = write_features(spark, pdf, str(tmp_path / "pool"), partitions=2)
    res = run_ranking(spark, RankOptions(targets=["arc_c", "hellaswag"], pool=path,
                                         output=str(tmp_path / "sel"), fraction=0.5,
                                         experiment="rank-tests", **FAST))
    assert_same_selection(read_delta(res.output_path),
                          reference(pdf, pdf, ["arc_c", "hellaswag"], 0.5))
    assert [t.name for t in res.targets] == ["arc_c", "hellaswag"]


def test_a_packed_pool_against_list_targets_equals_the_reference(spark, tmp_path, mlflow_uri):
    """Today's packed storage and the array<short> of earlier releases, mixed in one run."""
    pdf, target = synthetic_pool(200, seed=41), synthetic_pool(40, seed=42)
    pool = write_features(spark, pdf, str(tmp_path / "pool"), partitions=3, layout="bits4")
    targets = write_features(spark, target, str(tmp_path / "targets"), partitions=1)
    res = run_ranking(spark, RankOptions(targets=["arc_c", "hellaswag"], pool=pool,
                                         target_features=targets, output=str(tmp_path / "sel"),
                                         fraction=0.4, experiment="rank-tests", **FAST))
    assert_same_selection(read_delta(res.output_path),
                          reference(pdf, target, ["arc_c", "hellaswag"], 0.4))


def test_only_narrow_ranked_rows_reach_python_without_a_byte_limit(spark, tmp_path, mlflow_uri,
                                                                   monkeypatch):
    """The write runs under NARROW_ROWS_CONF when no payload column is carried, and under the
    user's own Arrow settings when one is (a text payload can be megabytes a row); after
    either, the user's settings are back and the selection equals the reference."""
    import nag_spark.delta as delta
    from nag_spark.spark.rank.selection import NARROW_ROWS_CONF

    keys, seen, real = list(NARROW_ROWS_CONF), [], delta.write_table

    def spy(df, *args, **kwargs):
        seen.append({k: spark.conf.get(k, None) for k in keys})
        return real(df, *args, **kwargs)

    pdf = synthetic_pool(120, seed=31)
    pool = write_features(spark, pdf, str(tmp_path / "pool"), partitions=2, layout="bits4")
    monkeypatch.setattr(delta, "write_table", spy)
    before = {k: spark.conf.get(k, None) for k in keys}
    users = {keys[0]: "777", keys[1]: "64m"}
    try:
        for k, v in users.items():
            spark.conf.set(k, v)
        for i, payload in enumerate([(), ("n_tokens",)]):
            res = run_ranking(spark, RankOptions(
                targets=["hellaswag"], pool=pool, output=str(tmp_path / f"sel{i}"), fraction=0.3,
                experiment="rank-tests", payload_cols=payload, **FAST))
            assert_same_selection(read_delta(res.output_path),
                                  reference(pdf, pdf, ["hellaswag"], 0.3))
            assert {k: spark.conf.get(k) for k in keys} == users
    finally:
        for k, v in before.items():
            spark.conf.unset(k) if v is None else spark.conf.set(k, v)
    assert seen == [NARROW_ROWS_CONF, users]
