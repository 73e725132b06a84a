#!/usr/bin/env bash
# Main job: set up .venv (first run only), then plan and preview an example stack offline
# (default aws-chat-small). Output: the plan, the resource tree, and files under preview-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
stack="${1:-aws-chat-small}"
exec .venv/bin/gpuforge preview --stack "$stack" --out "preview-out/${stack}"
