# The two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench install setup lint check-courses resources clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

## run: install, migrate var/lms.db, load courses and demo data, serve on http://127.0.0.1:8000
run: install
	bash scripts/system-packages.sh run
	$(BIN)/lms db upgrade
	-$(BIN)/lms courses sync  # a refused course is reported; the rest still load
	$(BIN)/lms demo
	$(BIN)/lms serve --host $(HOST) --port $(PORT)

## test: install, then lint, type-check and run the whole suite on SQLite and PostgreSQL, with Chromium
test: install
	bash scripts/system-packages.sh test
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lms courses check --strict courses
	$(BIN)/pytest

## bench: seed a statewide academy into a throwaway PostgreSQL database, load every page (minutes)
bench: install
	bash scripts/system-packages.sh bench
	$(BIN)/python bench/run.py

check-courses: install
	$(BIN)/lms courses check --strict

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) var .pytest_cache

## resources: rebuild the printable PDFs from courses/*/resources/src/*.md
resources: install
	$(BIN)/python scripts/build_resource_pdfs.py
