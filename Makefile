# The README's commands. Each target creates .venv and installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
COURSE := $(VENV)/bin/course
JOBS   ?= 2
PYTEST_FLAGS ?=

.PHONY: setup course test test-tf test-jax lab site bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

setup: $(VENV)/.installed-dev          ## create .venv with the package and the test tools

course: $(VENV)/.installed             ## run every notebook in the default profile into build/
	$(COURSE) run --out build

# Library, CLI, packaging and notebook tests on TensorFlow (the notebooks under nbval in
# the smoke profile), then the library and CLI tests again on JAX.
test: $(VENV)/.installed-dev
	$(MAKE) --no-print-directory test-tf test-jax

test-tf: $(VENV)/.installed-dev
	COURSE_PROFILE=smoke COURSE_OFFLINE=1 KERAS_BACKEND=tensorflow \
	  $(PY) -m pytest -n $(JOBS) --dist loadfile $(PYTEST_FLAGS) tests notebooks

test-jax: $(VENV)/.installed-dev
	COURSE_PROFILE=smoke COURSE_OFFLINE=1 KERAS_BACKEND=jax \
	  $(PY) -m pytest -n $(JOBS) --dist loadfile -m "not counts_only" $(PYTEST_FLAGS) tests/lib tests/cli

lab: $(VENV)/.installed                ## JupyterLab on the notebooks, with the course's kernel
	$(PY) -m ipykernel install --sys-prefix --name keras-vision-course --display-name "Keras vision course"
	$(VENV)/bin/jupyter lab notebooks

site: course                           ## the HTML pages of `make course`, in build/
	@echo "open build/index.html"

bench: $(VENV)/.installed-dev          ## benchmarks: one JSON line each
	$(PY) benchmarks/notebook_times.py --profile smoke
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/grading.py

clean:
	rm -rf build dist *.egg-info
