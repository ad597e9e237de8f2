# Quick start:  make demo   (set up .venv, run the iris example end to end)
#               make test   (the test suite; CI runs exactly this)
#               make test-fast (the tests that need no TensorFlow, in seconds)
#               make conformance (all 40 keras.applications constructors the whole way, then
#                                 the table: bench/results/conformance.md; ZOO_CONFORMANCE=fast
#                                 for one per family)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export TF_CPP_MIN_LOG_LEVEL := 2
export TF_ENABLE_ONEDNN_OPTS := 0

.PHONY: setup demo test test-fast conformance clean

# keras-hub (for `zoo import` of presets) goes in without its dependencies: they
# would bring a second TensorFlow, tensorflow-text and kagglehub, none of which
# image backbones need (shared/DESIGN.md).
KERAS_HUB := keras-hub==0.32.0 regex==2026.11.19 tokenizers==0.23.3

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,docs]'
	$(BIN)/python -m pip install --quiet --no-deps $(KERAS_HUB)
	touch $@

demo: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" bash examples/iris_demo.sh demo

# Two test workers (pytest-xdist): CI has two cores, and most of a test's time is one
# core's (importing, tracing, converting). TEST_WORKERS=0 runs in this process.
TEST_WORKERS ?= 2

test: setup
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal --durations=15

test-fast: setup
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) -m "not slow"

# The rows go to $(CONFORMANCE_RESULTS) (stale ones removed first); the table is
# written even when some architectures fail, and the exit status is pytest's.
ZOO_CONFORMANCE ?= all
CONFORMANCE_RESULTS ?= bench/results/conformance
conformance: setup
	rm -f $(CONFORMANCE_RESULTS)/*.json
	ZOO_CONFORMANCE=$(ZOO_CONFORMANCE) ZOO_CONFORMANCE_RESULTS=$(CONFORMANCE_RESULTS) \
		$(BIN)/python -m pytest -q -m conformance --durations=0 tests/test_conformance.py; \
		status=$$?; $(BIN)/python bench/conformance_table.py $(CONFORMANCE_RESULTS); exit $$status

clean:
	rm -rf $(VENV) demo .pytest_cache
