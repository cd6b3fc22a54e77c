# Two commands do all the set-up: `make run` (the main job) and `make test` (every test).
# Both first install what they need: uv, the locked environment in .venv, and, where apt is
# available, Debian's Fashion-MNIST files and Chromium (the report's test renders it).
VENV := .venv
STAMP := $(VENV)/.installed
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
PYTEST_ARGS ?=

.PHONY: run test install lab notebooks colab-links

run: $(STAMP)
	$(VENV)/bin/xai-gan run

# Two workers, one file each at a time (a notebook's cells stay in order), one thread each:
# on two cores that is faster than one process whose two threads wait on each other. Files
# are handed out in the order tests/conftest.py gives them (FIRST), not by their size.
test: $(STAMP)
	XAI_GAN_PROFILE=ci OMP_NUM_THREADS=1 $(VENV)/bin/python -m pytest -n 2 --dist loadfile \
		--no-loadscope-reorder tests notebooks --nbval-lax --nbval-current-env $(PYTEST_ARGS)

install: $(STAMP)

# Open the notebook series in JupyterLab (the widgets of notebooks 01 and 07 included).
lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

# Re-run every notebook and store the outputs (for reading on GitHub): at full size, except
# notebook 08, whose full size (224 px fine-tuning, Score-CAM and SISE) is a job for a GPU.
OWN_MODEL := notebooks/08_your_own_model.ipynb
notebooks: $(STAMP)
	XAI_GAN_PROFILE=full $(VENV)/bin/python notebooks/execute.py \
		$(filter-out $(OWN_MODEL),$(sort $(wildcard notebooks/[0-9]*.ipynb)))
	XAI_GAN_PROFILE=ci $(VENV)/bin/python notebooks/execute.py $(OWN_MODEL)

# Point every notebook's Colab badge and install cell (and the README's badges) at this
# repository: `git remote get-url origin` (github.com), the current branch (else main).
# REPO=owner/name and BRANCH=name override them. Standard library only, no install needed.
colab-links:
	python3 tools/colab_links.py $(if $(REPO),--repo $(REPO)) $(if $(BRANCH),--branch $(BRANCH))

# --compile-bytecode: where PYTHONDONTWRITEBYTECODE is set (it is on these machines) every
# Python process would otherwise compile torch's sources again, about 6 s per notebook kernel
# uv comes from PATH, else from a python3 that has it, else it is installed into a venv of
# its own (.uv/): never into the system Python, which refuses pip where it is externally
# managed (PEP 668: current Debian and Ubuntu) and may have no pip at all. Where python3
# cannot make a venv (Debian without python3-venv), apt installs that first when root.
UV = $(shell command -v uv || (python3 -m uv --version >/dev/null 2>&1 && echo python3 -m uv) \
	|| echo .uv/bin/uv)

.uv/bin/uv:
	python3 -m venv .uv 2>/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		python3-venv && rm -rf .uv && python3 -m venv .uv; }
	.uv/bin/python -m pip install --quiet uv

$(STAMP): pyproject.toml uv.lock $(if $(filter .uv/bin/uv,$(UV)),.uv/bin/uv)
	$(UV) sync --frozen --extra dev --extra lab --compile-bytecode
	@missing=""; [ -e $(FASHION_MNIST) ] || missing="dataset-fashion-mnist"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) \
		|| echo "warning: apt could not install:$$missing; the tests that need it will be skipped"; fi
	touch $@
