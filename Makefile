# xpcvae: the README's two commands are `make demo` and `make test`.
# Every step installs what it needs, so both work from a clean clone.

PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(VENV)/bin/pip
STAMP   := $(VENV)/.xpcvae-installed
JAVA_DIST := java/build/install/xpcvae
BUNDLE  ?= export/default

.PHONY: all venv java test test-python test-java java-consumer demo bench clean

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

# The library as a Maven dependency: publishes org.xpcvae:xpcvae to java/build/maven-repo, then
# builds and runs examples/java-consumer with Maven against it (installs Maven if it is missing).
java-consumer:
	bash scripts/java_consumer.sh

test: venv java test-java test-python java-consumer

demo: venv java
	$(PY) -m xpcvae.tools.demo --bundle $(BUNDLE) --examples examples --out demo-out

bench: venv java
	$(PY) -m xpcvae.tools.bench --out docs/performance.md

clean:
	rm -rf java/build java/.gradle build demo-out examples/java-consumer/target

# Reliability figures: soak of the Java CLI over 100 000 sources with 8 threads and injected bad
# rows, the Python batch path, and the attack catalogue (bad inputs, bad bundles, output paths,
# signals, odd options against both engines) -> docs/reliability.md (and .json).
.PHONY: reliability
reliability: venv java
	$(PY) -m xpcvae.tools.reliability --out docs/reliability.md
