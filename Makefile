# xpcvae: the README's two commands are `make demo` and `make test`.
# Every step installs what it needs, so both work from a clean clone.

PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(VENV)/bin/pip
STAMP   := $(VENV)/.xpcvae-installed
JAVA_DIST := java/build/install/xpcvae
BUNDLE  ?= export/default

.PHONY: all venv java test test-python test-java demo bench clean spark-demo

all: venv java

# Virtual environment with the package and its test extras. PyTorch is large:
# the venv is created once and reused; pip reuses its wheel cache.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test,bench]'
	touch $(STAMP)

venv: $(STAMP)

# Java module: installs Gradle (Debian package) if missing, fetches the Maven
# Central dependencies, builds the runnable distribution used by the demo and the
# JPype parity tests.
java:
	bash scripts/java_build.sh

test-java:
	bash scripts/java_build.sh test

test-python: venv java
	$(PY) -m pytest -q tests

test: venv java test-java test-python

demo: venv java
	$(PY) -m xpcvae.tools.demo --bundle $(BUNDLE) --examples examples --out demo-out

# The Spark job (org.xpcvae.spark.InferJob, docs/scale.md) on local[2]: the example spectra
# converted to Parquet, the summary written as Parquet and printed as a table.
SPARK_LOCAL := java/spark/build/install/xpcvae-spark/bin/xpcvae-spark-local
spark-demo: venv java
	rm -rf demo-out/spark
	$(PY) -m xpcvae.cli to-parquet examples/spectra.csv demo-out/spark/spectra.parquet
	SPARK_LOCAL_IP=127.0.0.1 $(SPARK_LOCAL) --master 'local[2]' --bundle $(BUNDLE) \
	    --input demo-out/spark/spectra.parquet --output demo-out/spark/summary.parquet --show 20

bench: venv java
	$(PY) -m xpcvae.tools.bench --out docs/performance.md

clean:
	rm -rf java/build java/.gradle build demo-out

# Reliability figures (issue 8): soak of the Java CLI over 100 000 sources with 8 threads and
# injected bad rows, plus the Python batch path -> docs/reliability.md (and .json).
.PHONY: reliability
reliability: venv java
	$(PY) -m xpcvae.tools.reliability --out docs/reliability.md
