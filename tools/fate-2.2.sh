#!/usr/bin/env bash
# Install FATE 2.2 (FATE Flow, FATE's algorithms, fate-client) from PyPI into a venv in the cache, outside the repo,
# for the real-FATE tier (tests/fate). Idempotent: a venv whose stamp matches the pins below is kept; any change to
# the pins rebuilds it. Run once per machine (~5.6 GB: torch with its CUDA wheels, which pyfate requires).
#
#   tools/fate-2.2.sh           # builds $CACHE/fate-2.2 unless it is current; prints its python
#   tools/fate-2.2.sh --check   # exit 0 if the cached venv is current, 1 otherwise (builds nothing)
#
# The pins (measured on this project's CI machine; cold install time in docs/development.md):
# - fate_client[fate,fate_flow]==2.2.0 brings fate-flow 2.2.0 and pyfate 2.2.0 (torch 2.3.1, scikit-learn 1.4.1);
# - pyfate[rabbitmq] for the RabbitMQ federation backend; its `pika` extra is unpinned and the extras of fate_client
#   do not bring it: pika 1.2.1 is the version FATE's own requirements name (FATE@v2.2.0 python/requirements-rabbitmq.txt);
# - Werkzeug 2.2.3: fate-flow pins Flask 2.2.5 but not Werkzeug, and Werkzeug 3 removed `werkzeug.__version__`,
#   which Flask 2.2's test client (used by FATE Flow's app) reads.
set -euo pipefail

CACHE="${FATE_PULUMI_CACHE:-$HOME/.cache/fate-pulumi}"
VENV="$CACHE/fate-2.2"
PYTHON="${PYTHON:-python3}"
PINS=("fate_client[fate,fate_flow]==2.2.0" "pyfate[rabbitmq]==2.2.0" "pika==1.2.1" "Werkzeug==2.2.3")
STAMP="$VENV/.fate-pulumi-$(printf '%s\n' "${PINS[@]}" | sha256sum | cut -c1-12)"

log() { echo "[fate-2.2 $(date +%H:%M:%S)] $*"; }

current() { [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ -x "$VENV/bin/fate_flow" ] && [ -x "$VENV/bin/flow" ]; }

if [ "${1:-}" = "--check" ]; then
  current
  exit
fi
if current; then
  log "cached: $VENV"
  echo "$VENV/bin/python"
  exit 0
fi

start=$(date +%s)
log "installing ${PINS[*]} into $VENV"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir "${PINS[@]}"
# what the tier relies on being importable, so a half-installed venv is never stamped
"$VENV/bin/python" -c 'import fate_flow, fate, fate_client, pika, sklearn, werkzeug; assert werkzeug.__version__ == "2.2.3"'
"$VENV/bin/pip" freeze --disable-pip-version-check > "$VENV/freeze.txt"
touch "$STAMP"
log "done in $(( $(date +%s) - start )) s; $(du -sh "$VENV" | cut -f1)"
echo "$VENV/bin/python"
