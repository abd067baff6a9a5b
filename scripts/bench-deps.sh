#!/usr/bin/env bash
# scripts/bench-deps.sh — Debian 12 packages needed only by the serving
# benchmarks (bench/serve/): the load generator and the two peers (nginx
# serving a static JSON; Flask + scikit-learn under gunicorn). Not needed to
# build or test tide. Idempotent; run as root.
set -eu
exec bash "$(dirname "$0")/deps.sh" wrk nginx-light python3-flask gunicorn python3-sklearn curl
