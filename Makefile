# Quick start: `make demo` then `make test`. Both set up .venv first (idempotent: a stamp file
# records the installed requirements; nothing is reinstalled when they did not change).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.kit-installed
export KERAS_BACKEND ?= torch
export HF_HUB_OFFLINE = 1
export TRANSFORMERS_OFFLINE = 1
export WANDB_MODE ?= offline

.PHONY: setup demo lab test test-tf bench clean-runs

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# torch first, pinned to the CPU build on disk, so nothing pulls a multi-GB CUDA build
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $$(grep '^torch==' requirements.txt)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

demo: setup
	$(BIN)/kit run sentiment-classification

# JupyterLab on the project's venv, serving the project with notebooks/ open: kernel `python3` is .venv's Python
# (the venv's kernel spec first on JUPYTER_PATH), KERAS_BACKEND and the offline hub settings exported above, plots
# inline. It prints the URL with its token. More options: make lab LAB_ARGS="--port 8899 --no-browser"
LAB_ARGS ?=
lab: setup
	JUPYTER_PATH="$(CURDIR)/$(VENV)/share/jupyter$${JUPYTER_PATH:+:$$JUPYTER_PATH}" \
	MPLBACKEND=module://matplotlib_inline.backend_inline \
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks \
	  $$(test "$$(id -u)" = 0 && echo --allow-root) $(LAB_ARGS)

test: setup
	$(BIN)/ruff check kitlib tests bench notebooks
	$(BIN)/python -m pytest -q

# The Keras tests again on the TensorFlow backend: .venv-tf sees .venv through a .pth file and adds
# TensorFlow on top, so .venv never gets TensorFlow (it pins h5py<3.15).
test-tf: setup
	@test -x .venv-tf/bin/python || $(BIN)/python -m venv .venv-tf
	@.venv-tf/bin/python -c "import site,sys; open(site.getsitepackages()[0]+'/kit-venv.pth','w').write('$(CURDIR)/$(VENV)/lib/python%d.%d/site-packages\n$(CURDIR)\n' % sys.version_info[:2])"
	.venv-tf/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-tf.txt
	KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=2 .venv-tf/bin/python -m pytest -q -m keras

bench: setup
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean-runs:
	rm -rf runs/
