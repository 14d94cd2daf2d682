# The two commands: `make test` and `make demo`. Both set everything up themselves:
# find a Python >= 3.12 (PATH first, then pyenv), build .venv with tox, run tox.
SHELL := /bin/bash
VENV := .venv
OUT ?= demo_output
ONLY ?=

PYTHON := $(shell for p in python3.12 python3.13 python3 python; do \
	  if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then command -v $$p; exit 0; fi; done; \
	  root=$$(pyenv root 2>/dev/null || echo $$HOME/.pyenv); \
	  for p in $$(ls -d $$root/versions/3.1[2-9].*/bin/python3 2>/dev/null | sort -V); do \
	  if $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then echo $$p; exit 0; fi; done)

.PHONY: test demo lint docs notebooks case-studies bench clean

$(VENV)/.ready: pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "error: no Python >= 3.12 found on PATH or under pyenv" >&2; exit 1; fi
	@echo "using $(PYTHON)"
	@# recent tox versions write a .venv *file* (a PEP 832 redirect to a tox env) when run directly
	@if [ -f $(VENV) ]; then echo "replacing the .venv redirect file with a virtual environment"; rm -f $(VENV); fi
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet "tox>=4.11"
	touch $@

test: $(VENV)/.ready
	$(VENV)/bin/tox run -e tests

demo: $(VENV)/.ready
	$(VENV)/bin/tox run -e demo -- --out $(OUT)

lint: $(VENV)/.ready
	$(VENV)/bin/tox run -e lint

docs: $(VENV)/.ready
	$(VENV)/bin/tox run -e docs

# execute the case studies at full size into docs/executed/ (the site shows them); ONLY=NAME: one
notebooks: $(VENV)/.ready
	$(VENV)/bin/tox run -e notebooks $(if $(ONLY),-- --only $(ONLY))

case-studies: $(VENV)/.ready
	$(VENV)/bin/tox run -e case-studies

bench: $(VENV)/.ready
	$(VENV)/bin/tox run -e bench

clean:
	rm -rf $(VENV) .tox build *.egg-info $(OUT)
