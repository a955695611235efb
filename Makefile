# The README's commands. Each target creates .venv and installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
COURSE := $(VENV)/bin/course
JOBS   ?= 2
PYTEST_FLAGS ?=
SITE   ?= build/site
LAB_ROOT  ?= .
LAB_FLAGS ?=
# MathJax 3 for the book's formulas: npm puts it in the venv once, the book copies it (no CDN).
MATHJAX_VERSION ?= 3.2.2
MATHJAX_DIR := $(VENV)/share/course-mathjax
MATHJAX     := $(MATHJAX_DIR)/node_modules/mathjax/es5/tex-mml-chtml.js

.PHONY: setup course test test-tf test-jax lab site mathjax mathjax-if-npm bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed $(VENV)/.installed-site

$(VENV)/.installed-site: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[site]"
	touch $@ $(VENV)/.installed

$(MATHJAX): | $(PY)
	@command -v npm >/dev/null || { echo "make: npm not found; install Node.js and npm for the book's local MathJax, or set COURSE_MATHJAX to a MathJax 3 es5 folder" >&2; exit 1; }
	npm install --silent --no-audit --no-fund --prefix $(MATHJAX_DIR) mathjax@$(MATHJAX_VERSION)

mathjax: | $(PY)
	@[ -n "$$COURSE_MATHJAX" ] || [ -f $(MATHJAX) ] || $(MAKE) --no-print-directory $(MATHJAX)

# For `make test`: without npm (and without COURSE_MATHJAX) the browser tests of the book skip and say why.
mathjax-if-npm: | $(PY)
	@if [ -n "$$COURSE_MATHJAX" ] || [ -f $(MATHJAX) ]; then :; \
	elif command -v npm >/dev/null; then $(MAKE) --no-print-directory $(MATHJAX); \
	else echo "make: npm not found, so no local MathJax: the book's tests will skip" >&2; fi

setup: $(VENV)/.installed-dev          ## create .venv with the package and the test tools

course: $(VENV)/.installed             ## run every notebook in the default profile into build/
	$(COURSE) run --out build

# Library, CLI, packaging and notebook tests on TensorFlow (the notebooks under nbval in
# the smoke profile), then the library and CLI tests again on JAX.
test: $(VENV)/.installed-dev mathjax-if-npm
	$(MAKE) --no-print-directory test-tf test-jax

test-tf: $(VENV)/.installed-dev
	COURSE_PROFILE=smoke COURSE_OFFLINE=1 KERAS_BACKEND=tensorflow \
	  $(PY) -m pytest -n $(JOBS) --dist loadfile $(PYTEST_FLAGS) tests notebooks

test-jax: $(VENV)/.installed-dev
	COURSE_PROFILE=smoke COURSE_OFFLINE=1 KERAS_BACKEND=jax \
	  $(PY) -m pytest -n $(JOBS) --dist loadfile -m "not counts_only" $(PYTEST_FLAGS) tests/lib tests/cli

# JupyterLab on the course (opening notebooks/), with the course's kernel as the default that
# starts by itself. JupyterLab refuses to run as root unless told, so as root (a container) it
# gets --allow-root and says so.
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json
lab: $(VENV)/.installed                ## JupyterLab on the notebooks, with the course's kernel
	$(PY) -m ipykernel install --sys-prefix --name keras-vision-course --display-name "Keras vision course"
	@[ -f $(LAB_SETTINGS) ] || { mkdir -p $(dir $(LAB_SETTINGS)) && \
	  echo '{"@jupyterlab/notebook-extension:tracker": {"autoStartDefaultKernel": true}}' > $(LAB_SETTINGS); }
	@root=; if [ "$$(id -u)" = 0 ]; then root=--allow-root; \
	  echo "make lab: running as root, so JupyterLab is started with --allow-root"; fi; set -x; \
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=$(LAB_ROOT) --LabApp.default_url=/lab/tree/notebooks \
	  --MappingKernelManager.default_kernel_name=keras-vision-course $$root $(LAB_FLAGS)

# The book: the committed notebooks as they are (nothing runs), the assignments' student
# versions and the library reference, as a static site that needs no network.
site: $(VENV)/.installed-site mathjax  ## the course as a static book in build/site (open build/site/index.html)
	$(PY) -m book.build --out $(SITE)

bench: $(VENV)/.installed-dev mathjax-if-npm  ## benchmarks: one JSON line each
	$(PY) benchmarks/notebook_times.py --profile smoke
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/grading.py
	$(PY) benchmarks/book_build.py

clean:
	rm -rf build dist *.egg-info
