# Databricks notebook source
# MAGIC %md
# MAGIC # 01 · Extract NAG features
# MAGIC
# MAGIC Runs the frozen LLM over the candidate **pool** and the **target** examples and writes one
# MAGIC features Delta table each (per document: the top-K neurons of every layer, its NAG).
# MAGIC
# MAGIC * On Databricks: the cluster's Spark session, Delta and the workspace MLflow are used; set the
# MAGIC   widgets above (paths in a Volume or DBFS). The repository root must be importable
# MAGIC   (Databricks Git folders put it on `sys.path`; otherwise `%pip install` the project).
# MAGIC * Anywhere else: `python notebooks/01_extract.py` uses the widget defaults (the shared sample,
# MAGIC   first `limit` rows) and the `local` profile; override a widget with `NAG_NB_<NAME>=...`.
# MAGIC
# MAGIC A re-run only processes documents missing from the tables.

# COMMAND ----------

from nag_spark.notebook_widgets import as_int, default_experiment, notebook_params, notebook_spark

params = notebook_params(
    {
        "pool_input": "../shared/data/pool.parquet",
        "targets_input": "../shared/data/targets.parquet",
        "pool_features": "nag-notebooks/features/pool",
        "target_features": "nag-notebooks/features/targets",
        "model": "smollm2-135m",
        "neuron_types": "fwd_up",
        "top_k": "20",
        "max_length": "120",
        "limit": "2000",
        "experiment": default_experiment(),
    },
    dbutils=globals().get("dbutils"),
)

# COMMAND ----------

spark = notebook_spark()

# COMMAND ----------

# MAGIC %md
# MAGIC ## Pool features

# COMMAND ----------

from nag_spark.spark.extract import ExtractOptions, run_extraction


def extract(source: str, output: str, what: str):
    """One extraction with the notebook's parameters (the library does all the work)."""
    return run_extraction(spark, ExtractOptions(
        input=params[source], output=params[output], model=params["model"],
        neuron_types=params["neuron_types"], top_k=int(params["top_k"]),
        max_length=int(params["max_length"]), limit=as_int(params["limit"]),
        experiment=params["experiment"], run_name=f"notebook 01: {what}",
    ))


pool_result = extract("pool_input", "pool_features", "pool")
print(f"pool: {pool_result.docs_processed} documents -> {pool_result.output} v{pool_result.version} "
      f"({pool_result.docs_per_s:.1f} docs/s), MLflow run {pool_result.run_id}")

# COMMAND ----------

# MAGIC %md
# MAGIC ## Target features

# COMMAND ----------

target_result = extract("targets_input", "target_features", "targets")
print(f"targets: {target_result.docs_processed} documents -> {target_result.output} "
      f"v{target_result.version}, MLflow run {target_result.run_id}")
