# Two commands for a fresh machine (see README): `make demo` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
MVN    ?= mvn -B -q

.PHONY: setup prereqs venv engine demo test test-python test-java lint down

setup: prereqs venv engine

# System packages this project runs: redis-server and chromium (Debian), Java 17 and Maven.
prereqs:
	@command -v redis-server >/dev/null || { echo "installing redis-server"; \
	  (apt-get update -qq && apt-get install -y -qq redis-server) >/dev/null; }
	@command -v chromium >/dev/null || { echo "installing chromium (the search page's browser test)"; \
	  (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null; }
	@fc-list 2>/dev/null | grep -qi "wenquanyi zen hei" || { echo "installing a CJK font (Chinese labels in report plots)"; \
	  (apt-get update -qq && apt-get install -y -qq fonts-wqy-zenhei) >/dev/null; }
	@command -v java >/dev/null || { echo "Java 17 is missing: apt-get install -y openjdk-17-jdk-headless"; exit 1; }
	@command -v mvn >/dev/null || { echo "Maven is missing: apt-get install -y maven"; exit 1; }

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is missing"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

venv: $(VENV)/.installed

# The scoring plugin zip and the embedded node's home (tests run in test-java).
engine:
	$(MVN) -f engine/pom.xml package -DskipTests
	@touch engine/target/dist/.built

demo: setup
	$(VENV)/bin/interest up
	$(VENV)/bin/interest demo

test-java:
	$(MVN) -f engine/pom.xml package
	@touch engine/target/dist/.built

test-python: venv
	$(VENV)/bin/ruff check plugin indexer tasks mappings stack tests bench
	$(VENV)/bin/mypy plugin indexer tasks mappings stack
	$(VENV)/bin/python -m pytest -q tests

test: prereqs venv test-java test-python

lint: venv
	$(VENV)/bin/ruff check plugin indexer tasks mappings stack tests bench
	$(VENV)/bin/ruff format --check plugin indexer tasks mappings stack tests bench
	$(VENV)/bin/mypy plugin indexer tasks mappings stack

down:
	$(VENV)/bin/interest down
