#!/usr/bin/env bash
# Create .venv (if missing) and install gpuforge with its pinned dependencies.
# Idempotent: a second run only re-checks the install. Progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "-> Creating .venv with $("$PY" --version 2>&1)" >&2
  "$PY" -m venv .venv
fi
stamp=.venv/.gpuforge-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  log=.venv/pip-install.log
  echo "-> Installing gpuforge and its pinned dependencies into .venv (first run: a few minutes; full log: $log)" >&2
  trap 'echo "   failed: see $log" >&2' ERR
  SECONDS=0
  .venv/bin/python -m pip install --disable-pip-version-check --upgrade pip > "$log" 2>&1
  # one line per package as pip resolves it, so a slow first run is not silent
  .venv/bin/python -m pip install --disable-pip-version-check -e ".[test]" 2>&1 | tee -a "$log" \
    | awk '/^(Collecting|ERROR|Successfully installed)/ { print "   " substr($0, 1, 160); fflush() }' >&2
  trap - ERR
  touch "$stamp"
  echo "   done in ${SECONDS} s" >&2
fi
# checkov in its own venv: its dependency pins clash with ours (scripts/checkov-requirements.txt)
ck_stamp=.venv-checkov/.installed
if [ ! -f "$ck_stamp" ] || [ scripts/checkov-requirements.txt -nt "$ck_stamp" ]; then
  [ -x .venv-checkov/bin/python ] || "$PY" -m venv .venv-checkov
  .venv-checkov/bin/python -m pip install -q --disable-pip-version-check -r scripts/checkov-requirements.txt
  touch "$ck_stamp"
fi
