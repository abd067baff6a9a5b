#!/usr/bin/env bash
# scripts/bench-deps.sh — Debian 12 packages needed only by the serving
# benchmarks (bench/serve/): the load generator and the two peers (nginx
# serving a static JSON; Flask + scikit-learn under gunicorn). Not needed to
# build or test tide. Idempotent; run as root.
set -eu
PKGS="wrk nginx-light python3-flask gunicorn python3-sklearn curl"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
