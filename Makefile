# Two commands for a new user: `make demo` and `make test` (each sets itself up first).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.z2h-installed
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
export MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT ?= true

.PHONY: setup browser test test-fast demo clean

setup: $(STAMP)

# The UI test drives Debian's headless Chromium; install it when missing (needs root or sudo).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }

# torch first: the CPU wheel 2.13.0 (docs/stack.md); an unpinned torch would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "torch==2.13.0"
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

test: setup browser
	$(BIN)/python -m pytest -q -x --durations=15

test-fast: setup
	$(BIN)/python -m pytest -q -m "not learning and not integration"

demo: setup
	$(BIN)/python -m zero2hero.demo $(if $(DATA_DIR),--data_dir $(DATA_DIR))

clean:
	rm -rf $(VENV) z2h-demo .pytest_cache
