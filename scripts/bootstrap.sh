#!/usr/bin/env bash
# Create .venv (if missing) and install gpuforge with its pinned dependencies.
# Idempotent: a second run only re-checks the install.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.gpuforge-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
  touch "$stamp"
fi
# checkov in its own venv: its dependency pins clash with ours (scripts/checkov-requirements.txt)
ck_stamp=.venv-checkov/.installed
if [ ! -f "$ck_stamp" ] || [ scripts/checkov-requirements.txt -nt "$ck_stamp" ]; then
  [ -x .venv-checkov/bin/python ] || "$PY" -m venv .venv-checkov
  .venv-checkov/bin/python -m pip install -q --disable-pip-version-check -r scripts/checkov-requirements.txt
  touch "$ck_stamp"
fi
