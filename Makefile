# Pruning, Hands-On. Two commands are all a learner needs:
#   make lab    set everything up and open the course in JupyterLab
#   make test   set everything up and run every test (unit tests + every notebook in FAST mode)
# `make help` lists every target (from the `## ` comment on its line). Maintainers: see CONTRIBUTING.md.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS := $(VENV)/.installed-extras

.PHONY: help lab test site nbgrader-source lint format run-all run-seeds run-seeds-other run-fast run-learner learner-edition clean-notebooks sync-env clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"the course needs Python 3.11, got {sys.version.split()[0]}; run make PYTHON=/path/to/python3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $@

# What only the tests, the website and the classroom flow need (Playwright, Sphinx, nbgrader): not in `make lab`.
$(EXTRAS): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,browser,site,classroom]"
	@touch $@

lab: $(STAMP)  ## set up .venv and open the course in JupyterLab
	$(BIN)/jupyter lab learner/00_index.ipynb $(if $(filter 0,$(shell id -u)),--allow-root)

# The learner edition runs on the numerical kernels another CPU family would take (`python -m course_utils
# other-kernels`: AVX2 instead of AVX-512, TensorFlow's Eigen instead of oneDNN), the solutions on this CPU's own:
# every notebook's main line meets both, so a tolerance that only one CPU's kernels meet fails here, not on a
# learner's laptop.
test: $(EXTRAS)  ## set up .venv, lint, and run every test (unit tests, every notebook in FAST mode, its learner edition on another CPU's kernels, browser, nbgrader)
	$(BIN)/ruff check course_utils tests
	COURSE_FAST=1 $(BIN)/python -m pytest tests --nbval-current-env
	env $$($(BIN)/python -m course_utils other-kernels) COURSE_FAST=1 $(BIN)/python -m pytest learner --nbval-lax --nbval-current-env

site: $(EXTRAS)  ## the course website in build/site/ (outputs of `make run-all`, else FAST runs); offline
	$(BIN)/python -m course_utils site

nbgrader-source: $(EXTRAS)  ## an nbgrader source course in build/nbgrader/ (see the instructor guide)
	$(BIN)/python -m course_utils nbgrader-source --out build/nbgrader

lint: $(STAMP)  ## ruff: lint the package and the tests (configured in pyproject.toml)
	$(BIN)/ruff check course_utils tests

format: $(STAMP)  ## ruff: apply the fixes ruff can make (import order, modern syntax), then lint
	$(BIN)/ruff check --fix course_utils tests

run-all: $(STAMP)  ## benchmark: every notebook in full mode, one table (time, memory, results)
	$(BIN)/python -m course_utils run-all --full

run-seeds: $(STAMP)  ## benchmark: the whole course in full mode with SEED 0, 1 and 2, one table (about 20 min)
	$(BIN)/python -m course_utils run-all --full --seeds 0,1,2

run-seeds-other: $(STAMP)  ## the same on the numerical kernels another CPU family would take (AVX2 / Eigen)
	$(BIN)/python -m course_utils run-all --full --seeds 0,1,2 --other-kernels

run-learner: $(STAMP)  ## the learner edition, every exercise unsolved, FAST mode: must finish with no error
	$(BIN)/python -m course_utils run-all --fast --learner

run-fast: $(STAMP)  ## every notebook in FAST mode, one table
	$(BIN)/python -m course_utils run-all --fast

learner-edition: $(STAMP)  ## regenerate learner/ (solutions removed) from notebooks/
	$(BIN)/python -m course_utils learner-edition

clean-notebooks: $(STAMP)  ## EXECUTE every notebook (FAST) to refresh its checked outputs, then strip it clean
	$(BIN)/python -m course_utils clean --refresh

sync-env: $(STAMP)  ## regenerate environment.yml, the README course map and the Binder badges
	$(BIN)/python -m course_utils sync-env

clean:  ## delete build/ (executed notebooks, results) and .pytest_cache
	rm -rf build .pytest_cache

help:  ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'
