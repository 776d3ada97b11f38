"""Repacking a features table of an earlier release (spark/repack.py, jobs/repack.py):
same rows, same lineage, packed NAG columns read back by delta-rs, and ranking it selects
exactly what ranking the original selects."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "rank"))
from rank_fixtures import LINEAGE, read_delta, synthetic_pool, write_features  # noqa: E402

from nag_spark.errors import InputError, TableError  # noqa: E402
from nag_spark.spark.rank import RankOptions, run_ranking  # noqa: E402
from nag_spark.spark.repack import repack_features  # noqa: E402
from nag_spark.tables.nag_codec import decode_nags  # noqa: E402


def test_repacked_table_holds_the_same_rows_and_ranks_the_same(spark, tmp_path, mlflow_uri):
    from deltalake import DeltaTable

    pdf = synthetic_pool(150, seed=51)
    old = write_features(spark, pdf, str(tmp_path / "old"), partitions=2)
    version, kinds = repack_features(spark, old, str(tmp_path / "new"))
    assert (version, kinds) == (0, {"fwd_up": "bits4"})
    table = DeltaTable(str(tmp_path / "new"))
    assert {k: v for k, v in table.metadata().configuration.items() if k in LINEAGE} == LINEAGE
    data = table.to_pyarrow_table().sort_by("docid")
    assert str(data.schema.field("fwd_up").type) == "binary"
    want = pdf.sort_values("docid")
    assert data.column("docid").to_pylist() == want.docid.tolist()
    assert np.array_equal(decode_nags(data.column("fwd_up"), 12, "fwd_up"),
                          np.stack(want.fwd_up.to_numpy()))
    sel = [read_delta(run_ranking(spark, RankOptions(
        targets=["arc_c"], pool=p, output=str(tmp_path / f"sel{i}"), fraction=0.3,
        experiment="repack-tests")).output_path).sort_values("rank") for i, p in
           enumerate([old, str(tmp_path / "new")])]
    assert sel[0].docid.tolist() == sel[1].docid.tolist()
    assert sel[0].nag_distance.tolist() == sel[1].nag_distance.tolist()  # bit for bit
    with pytest.raises(TableError, match="exists: repack writes a new table"):
        repack_features(spark, old, str(tmp_path / "new"))
    with pytest.raises(InputError, match="no array NAG column to repack"):
        repack_features(spark, str(tmp_path / "new"), str(tmp_path / "again"))
