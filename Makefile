# AudioChain: `make demo` renders the demo graph headless; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_CPU ?= torch==2.13.0

.PHONY: demo test bench install dev system-deps clean

$(VENV)/.core-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml $(VENV)/.core-installed
	$(PY) -m pip install -q "$(TORCH_CPU)"
	$(PY) -m pip install -q -e ".[models,editor,finetune,distributed,tempo,separation,diffusion,dev]"
	touch $@

install: $(VENV)/.core-installed

dev: $(VENV)/.dev-installed

demo: $(VENV)/.core-installed
	$(VENV)/bin/audiochain run graphs/demo.msgpack -o out
	@echo "demo rendered: $(CURDIR)/out/demo.wav"

system-deps:
	bash scripts/system-deps.sh

test: system-deps $(VENV)/.dev-installed
	bash scripts/run-tests.sh $(PY)

bench: $(VENV)/.dev-installed
	$(PY) -m bench

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
