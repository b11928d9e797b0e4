# xpcvae: the README's two commands are `make demo` and `make test`.
# Every step installs what it needs, so both work from a clean clone.

PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(VENV)/bin/pip
STAMP   := $(VENV)/.xpcvae-installed
# the small, inference-only install (`pip install .`: no PyTorch, no ONNX) that `make demo` runs in
INFER_VENV  ?= .venv-infer
INFER_PY    := $(INFER_VENV)/bin/python
INFER_STAMP := $(INFER_VENV)/.xpcvae-installed
JAVA_DIST := java/build/install/xpcvae
BUNDLE  ?= export/default

.PHONY: all venv venv-infer java test test-python test-java java-consumer verify demo bench clean spark-demo spark-bench

all: venv java

# Virtual environment with the package, training (PyTorch, ONNX) and the test extras. PyTorch is
# large: the venv is created once and reused; pip reuses its wheel cache.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[train,test,bench]'
	touch $(STAMP)

venv: $(STAMP)

# The inference-only install, as a user gets it with `pip install .` (a copy of the package, so it
# is reinstalled when a source file changes).
$(INFER_STAMP): pyproject.toml $(shell find python/xpcvae -type f -not -path '*__pycache__*')
	test -x $(INFER_PY) || $(PYTHON) -m venv $(INFER_VENV)
	$(INFER_PY) -m pip install -q --upgrade pip
	$(INFER_PY) -m pip install -q .
	touch $(INFER_STAMP)

venv-infer: $(INFER_STAMP)

# Java module: installs Gradle (Debian package) if missing, fetches the Maven
# Central dependencies, builds the runnable distribution used by the demo and the
# JPype parity tests.
java:
	bash scripts/java_build.sh

test-java:
	bash scripts/java_build.sh test

test-python: venv java
	$(PY) -m pytest -q tests

# The library as a Maven dependency: publishes org.xpcvae:xpcvae to java/build/maven-repo, then
# builds and runs examples/java-consumer with Maven against it (installs Maven if it is missing).
java-consumer:
	bash scripts/java_consumer.sh

# Can the bundle be trusted? Every check of docs/verify.md, the Python/Java one required; the report
# in build/verify.md and build/verify.json.
verify: venv java
	$(PY) -m xpcvae.cli verify --bundle $(BUNDLE) --java --report build/verify.md

test: venv java test-java test-python java-consumer verify

demo: venv-infer java
	$(INFER_PY) -m xpcvae.tools.demo --bundle $(BUNDLE) --examples examples --out demo-out --java-dist $(JAVA_DIST)

# The Spark job (org.xpcvae.spark.InferJob, docs/scale.md) on local[2]: the example spectra
# converted to Parquet, the summary written as Parquet and printed as a table.
SPARK_LOCAL := java/spark/build/install/xpcvae-spark/bin/xpcvae-spark-local
spark-demo: venv java
	rm -rf demo-out/spark
	$(PY) -m xpcvae.cli to-parquet examples/spectra.csv demo-out/spark/spectra.parquet
	SPARK_LOCAL_IP=127.0.0.1 $(SPARK_LOCAL) --master 'local[2]' --bundle $(BUNDLE) \
	    --input demo-out/spark/spectra.parquet --output demo-out/spark/summary.parquet --show 20

# The sampler benchmark rewrites docs/performance.md; the Spark job against the CLI (docs/scale.md)
# then adds its section to it and to docs/scale.md. `make spark-bench` runs the latter alone.
bench: venv java
	$(PY) -m xpcvae.tools.bench --out docs/performance.md
	$(PY) -m xpcvae.tools.spark_bench --out docs/spark-bench.json --docs

spark-bench: venv java
	$(PY) -m xpcvae.tools.spark_bench --out docs/spark-bench.json --docs

clean:
	rm -rf java/build java/.gradle build demo-out examples/java-consumer/target $(INFER_VENV)

# Reliability figures: soak of the Java CLI over 100 000 sources with 8 threads and injected bad
# rows, the Python batch path, and the attack catalogue (bad inputs, bad bundles, output paths,
# signals, odd options against both engines) -> docs/reliability.md (and .json).
.PHONY: reliability
reliability: venv java
	$(PY) -m xpcvae.tools.reliability --out docs/reliability.md
