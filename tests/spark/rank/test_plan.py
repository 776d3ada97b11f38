"""Checking a ranking before any Spark job (spark/rank/plan.py): every bad option or table
is refused with an error that names it; a good one gives a resolved, frozen plan."""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import pytest  # noqa: E402

from rank_fixtures import LINEAGE, L, synthetic_pool, write_features  # noqa: E402

from nag_spark.errors import InputError, LineageMismatchError, NagError, TableError  # noqa: E402
from nag_spark.spark.rank import RankOptions, run_ranking  # noqa: E402
from nag_spark.spark.rank.plan import plan_ranking  # noqa: E402


@pytest.fixture(scope="module")
def bad_tables(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    pdf = synthetic_pool(40, seed=3)
    paths = {"good": write_features(spark, pdf, str(root / "good"), partitions=1)}
    paths["other_k"] = write_features(spark, pdf, str(root / "other_k"), {"nag.top_k": "5"}, 1)
    paths["other_model"] = write_features(spark, pdf, str(root / "other_model"),
                                          {"nag.model": "qwen3"}, 1)
    neg = pdf.copy()
    neg.loc[3, "token_num"] = -4
    paths["negative"] = write_features(spark, neg, str(root / "negative"), partitions=1)
    paths["no_tokens"] = str(root / "no_tokens")
    from nag_spark.delta import read_table, write_table

    write_table(read_table(spark, paths["good"]).drop("token_num"), paths["no_tokens"],
                mode="overwrite", properties=LINEAGE)
    return paths, root


@pytest.mark.parametrize("change,error,message", [
    (dict(pool="other_k"), LineageMismatchError, "nag.top_k"),
    (dict(pool="other_model"), LineageMismatchError, "nag.model"),
    (dict(targets=["nope"]), NagError, "known targets: .*hellaswag"),
    (dict(targets=["dataset=no_such_split"]), InputError, "empty.*values present"),
    (dict(fraction=0.0), InputError, "fraction"),
    (dict(fraction=1.2), InputError, "fraction"),
    (dict(pool="no_tokens"), InputError, "token_num"),
    (dict(pool="negative"), InputError, "negative"),
    (dict(neuron_type="fwd_sideways"), InputError, "unknown neuron type"),
    (dict(layers="9"), InputError, "out of range"),
    (dict(quality_col="nope"), InputError, "'nope'"),
    (dict(pool="missing"), NagError, "no Delta table"),
])
def test_bad_inputs_give_clear_errors(spark, bad_tables, mlflow_uri, change, error, message):
    paths, root = bad_tables
    opts = dict(targets=["hellaswag"], pool="good", target_features="good", fraction=0.2,
                experiment="rank-tests")
    opts.update(change)
    opts["pool"] = paths.get(opts["pool"], str(root / opts["pool"]))
    opts["target_features"] = paths["good"]
    with pytest.raises(error, match=message):
        run_ranking(spark, RankOptions(output=str(root / "out"), **opts))


def test_output_spelled_as_a_uri_of_an_input_is_refused(spark, bad_tables, mlflow_uri):
    from nag_spark.delta import table_version

    paths, _ = bad_tables
    before = table_version(paths["good"], spark)
    for output in ("file://" + paths["good"], paths["good"] + "/"):
        with pytest.raises(InputError, match="would overwrite an input table"):
            run_ranking(spark, RankOptions(targets=["hellaswag"], pool=paths["good"],
                                           output=output, experiment="rank-tests"))
    assert table_version(paths["good"], spark) == before


def test_a_good_plan_is_resolved_and_the_options_stay_as_given(spark, bad_tables):
    from nag_spark.delta import table_version

    paths, root = bad_tables
    opts = RankOptions(targets=[" hellaswag", "arc_c"], pool=paths["good"],
                       output=str(root / "planned"), fraction=0.5, layers="last")
    plan = plan_ranking(spark, opts)
    assert plan.names == ["hellaswag", "arc_c"] and plan.per_fraction == 0.25
    assert plan.same_table and plan.target_path == paths["good"]
    assert plan.layers == (L - 1,) and plan.layer_label == "last"
    assert plan.pool_version == table_version(paths["good"], spark)
    assert plan.model_lineage["nag.model"] == "synthetic" and "nag.kind" not in plan.model_lineage
    assert opts.targets == [" hellaswag", "arc_c"] and opts.fraction == 0.5
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.fraction = 0.1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.fraction = 0.1  # type: ignore[misc]


def test_lineage_and_column_refusals_name_the_problem(spark, bad_tables, tmp_path):
    from nag_spark.delta import read_table, write_table

    paths, root = bad_tables
    other_n = write_features(spark, synthetic_pool(10, seed=4), str(tmp_path / "other_n"),
                             {"nag.n_neurons.fwd_up": "32"}, 1)
    no_k = str(tmp_path / "no_k")
    write_table(read_table(spark, paths["good"]), no_k, mode="overwrite",
                properties={k: v for k, v in LINEAGE.items() if k != "nag.top_k"})
    good = dict(targets=["hellaswag"], pool=paths["good"], output=str(tmp_path / "out"))
    cases = [
        (dict(pool=other_n, target_features=paths["good"]), LineageMismatchError,
         r"pool features .*other_n have nag.n_neurons.fwd_up='32' but target features .*good "
         r"have nag.n_neurons.fwd_up='16': both must come from the same model and settings"),
        (dict(neuron_type="att_k"), LineageMismatchError,
         r"holds NAGs of neuron types 'fwd_up', not 'att_k'"),
        (dict(pool=no_k), TableError, r"no_k has no property 'nag.top_k'"),
        (dict(payload_cols=("dataset",)), InputError,
         r"payload column 'dataset' is already a selection column"),
        (dict(payload_cols=("url",)), InputError, r"pool table .* has no column 'url'"),
        (dict(targets=["hellaswag", "hellaswag"]), InputError, "a target is given twice"),
        (dict(targets=[]), InputError, "no target given"),
        (dict(mode="append"), InputError, "--mode must be overwrite or error, got 'append'"),
        (dict(power=0.0), InputError, "--power must be a positive number"),
        (dict(output=paths["good"] + "_copy", mode="error"), None, None),
    ]
    for change, error, message in cases:
        opts = RankOptions(**dict(good, **change))
        if error is None:
            plan_ranking(spark, opts)  # an output that does not exist is fine in error mode
            continue
        with pytest.raises(error, match=message):
            plan_ranking(spark, opts)
    # An existing selection is refused in mode error; a table of another kind in any mode
    # (ranking never overwrites a features table that is not one of its inputs).
    old_sel = str(tmp_path / "old_selection")
    write_table(read_table(spark, paths["good"]).limit(1), old_sel,
                properties={"nag.kind": "selection"})
    with pytest.raises(TableError, match=r"exists \(use --mode overwrite\)"):
        plan_ranking(spark, RankOptions(**dict(good, output=old_sel, mode="error")))
    with pytest.raises(TableError, match=r"other_k is a features table \(nag.kind=features\), "
                                         r"not a selection table"):
        plan_ranking(spark, RankOptions(**dict(good, output=paths["other_k"])))
