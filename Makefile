# Pruning, Hands-On. Two commands are all a learner needs:
#   make lab    set everything up and open the course in JupyterLab
#   make test   set everything up and run every test (unit tests + every notebook in FAST mode)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: lab test run-all run-seeds run-fast run-learner clean-notebooks sync-env clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"the course needs Python 3.11, got {sys.version.split()[0]}; run make PYTHON=/path/to/python3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $@

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/00_index.ipynb $(if $(filter 0,$(shell id -u)),--allow-root)

test: $(STAMP)
	COURSE_FAST=1 $(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-current-env

run-all: $(STAMP)
	$(BIN)/python -m course_utils run-all --full

run-seeds: $(STAMP)  ## benchmark: the whole course in full mode with SEED 0, 1 and 2, one table (about 20 min)
	$(BIN)/python -m course_utils run-all --full --seeds 0,1,2

run-learner: $(STAMP)  ## the learner edition, every exercise unsolved, FAST mode: must finish with no error
	$(BIN)/python -m course_utils run-all --fast --learner

run-fast: $(STAMP)
	$(BIN)/python -m course_utils run-all --fast

clean-notebooks: $(STAMP)
	$(BIN)/python -m course_utils clean --refresh

sync-env: $(STAMP)
	$(BIN)/python -m course_utils sync-env

clean:
	rm -rf build .pytest_cache
