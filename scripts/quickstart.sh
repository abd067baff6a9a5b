#!/usr/bin/env bash
# scripts/quickstart.sh — first command of the README: installs the missing
# Debian packages, builds tide, and runs the main job on the embedded
# default: progressive validation (`tide replay`) of the default logistic
# model on the Elec2 stream, printing its metrics.
set -eu
cd "$(dirname "$0")/.."
bash scripts/deps.sh
make -j"$(nproc)"
DATA=${TIDE_DATA:-../shared/data}
./build/tide replay "$DATA/elec2.csv" --learner logistic --every 10000
