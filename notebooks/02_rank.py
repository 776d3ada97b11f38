# Databricks notebook source
# MAGIC %md
# MAGIC # 02 · Rank the pool and select by token budget
# MAGIC
# MAGIC Builds each target's profile from its NAGs, scores every pool document by NAG distance and
# MAGIC keeps the closest documents up to `fraction` of the pool's tokens. Each entry of `fractions`
# MAGIC is one rank run (an MLflow run of kind `rank`), so several can be compared in notebook 03.
# MAGIC All runs write the same selection table: each run records the Delta version it wrote, and
# MAGIC the comparison reads every selection at its own version.
# MAGIC
# MAGIC Targets are names from `conf/targets.yaml` (e.g. `hellaswag`, `arc_c`) or `COLUMN=VALUE`
# MAGIC filters; several comma-separated targets make a multi-target mixture.

# COMMAND ----------

from nag_spark.notebook_widgets import as_list, default_experiment, notebook_params, notebook_spark

params = notebook_params(
    {
        "pool_features": "nag-notebooks/features/pool",
        "target_features": "nag-notebooks/features/targets",
        "targets": "hellaswag",
        "fractions": "0.1,0.2",
        "layers": "all",
        "neuron_type": "fwd_up",
        "output": "nag-notebooks/selection",
        "experiment": default_experiment(),
    },
    dbutils=globals().get("dbutils"),
)

# COMMAND ----------

spark = notebook_spark()

# COMMAND ----------

from nag_spark.spark.rank import RankOptions, run_ranking

results = []
for fraction in as_list(params["fractions"]):
    result = run_ranking(spark, RankOptions(
        targets=as_list(params["targets"]), pool=params["pool_features"],
        target_features=params["target_features"] or None, output=params["output"],
        fraction=float(fraction), layers=params["layers"], neuron_type=params["neuron_type"],
        experiment=params["experiment"], run_name=f"notebook 02: {params['targets']} @ {fraction}",
    ))
    results.append(result)
    for t in result.targets:
        print(f"fraction {fraction}: {t.name}: {t.selected_docs} docs, {t.selected_tokens} tokens "
              f"(budget {t.budget}), boundary {t.boundary} -> {result.output_path} "
              f"v{result.output_version}, MLflow run {result.run_id}")

# COMMAND ----------

# MAGIC %md
# MAGIC ## The selection of the last run
# MAGIC Closest documents first; `rank` is 1-based within its target.

# COMMAND ----------

from nag_spark.delta import read_table

last = results[-1]
top = read_table(spark, last.output_path, last.output_version).orderBy("target", "rank").limit(20)
show_table = globals().get("display")
show_table(top) if show_table is not None else top.show(20, truncate=40)
