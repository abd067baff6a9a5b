#!/usr/bin/env bash
# scripts/quickstart.sh — first command of the README: installs the missing
# Debian packages, builds tide, and runs the main job on the embedded
# default: progressive validation (`tide replay`) of the default logistic
# model on the Elec2 stream, printing its metrics.
#   bash scripts/quickstart.sh serve [ADDR]  instead starts `tide serve` on
#   the embedded default (one SQLite database in ./tide-data, no other
#   server), listening on ADDR (default 127.0.0.1:8080), until Ctrl-C.
set -eu
cd "$(dirname "$0")/.."
bash scripts/deps.sh
make -j"$(nproc)"
if [ "${1:-}" = serve ]; then
  exec ./build/tide serve --data ./tide-data --listen "${2:-127.0.0.1:8080}"
fi
DATA=${TIDE_DATA:-../shared/data}
./build/tide replay "$DATA/elec2.csv" --learner logistic --every 10000
