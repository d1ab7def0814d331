# Two entry points a new user needs: `make demo` and `make test` (each sets up .venv first).
# mediapipe 0.10.21 supports Python 3.10-3.12: the first such interpreter on PATH is used.

VENV ?= .venv
PY := $(VENV)/bin/python
OCCMER := $(VENV)/bin/occmer
PYTHON ?= $(shell for p in python3.11 python3.12 python3.10 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(not (3,10) <= sys.version_info[:2] <= (3,12))' 2>/dev/null && { echo $$p; break; }; done)
DEMO_OUT ?= out

.PHONY: install demo test test-slow lint bench-perf clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: occmer needs Python 3.10-3.12 (mediapipe 0.10.21); none found on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,ray]'
	@touch $@

demo: install
	$(OCCMER) synthesize --db demo --mask glasses --workers 2 --features tvl1:28 --out $(DEMO_OUT)/demo_glasses.h5 --overwrite
	$(OCCMER) verify $(DEMO_OUT)/demo_glasses.h5
	$(OCCMER) inspect $(DEMO_OUT)/demo_glasses.h5

test: install
	$(PY) -m pytest -q

test-slow: install
	$(PY) -m pytest -q -m slow

lint: install
	$(VENV)/bin/ruff check occmer tests benchmark masks

clean:
	rm -rf $(DEMO_OUT) .pytest_cache
