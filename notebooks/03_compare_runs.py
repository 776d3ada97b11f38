# Databricks notebook source
# MAGIC %md
# MAGIC # 03 · Compare rank runs
# MAGIC
# MAGIC Puts rank runs side by side: the parameters that differ, the overlap of their selections
# MAGIC (Jaccard on docids and on tokens), their composition by dataset next to the pool's, and
# MAGIC their distance distributions with each selection boundary. Selections are read from Delta
# MAGIC at the versions the runs recorded. The report (figures + HTML) is written to `output` and
# MAGIC logged to a new MLflow run tagged `nag.kind=compare`.
# MAGIC
# MAGIC Give either `runs` (comma-separated run ids) or leave it empty to compare the `last` rank
# MAGIC runs of `experiment`.

# COMMAND ----------

from nag_spark.notebook_widgets import as_int, as_list, default_experiment, notebook_params, notebook_spark

params = notebook_params(
    {
        "runs": "",
        "experiment": default_experiment(),
        "last": "2",
        "output": "nag-notebooks/compare",
    },
    dbutils=globals().get("dbutils"),
)

# COMMAND ----------

spark = notebook_spark()

# COMMAND ----------

from nag_spark.spark.compare import compare_runs

run_ids = as_list(params["runs"])
report = compare_runs(
    run_ids=run_ids or None,
    experiment=None if run_ids else params["experiment"],
    last=None if run_ids else as_int(params["last"]),
    output_dir=params["output"],
    spark=spark,
)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Parameters (those that differ first) and overlap

# COMMAND ----------

from nag_spark.notebook_widgets import show

show(report.params, report.selection, report.jaccard_docids, report.jaccard_tokens,
     display=globals().get("display"))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Figures

# COMMAND ----------

from pathlib import Path

from nag_spark.tracking.compare import inline_images

display_html = globals().get("displayHTML")
if display_html is not None:  # Databricks renders the report inline, figures embedded
    display_html(inline_images(Path(report.html).read_text(encoding="utf-8"), Path(report.html).parent))
else:
    print(f"report: {report.html}\nfigures: {', '.join(report.figures.values())}")
