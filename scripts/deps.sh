#!/usr/bin/env bash
# scripts/deps.sh — installs the Debian 12 packages tide needs to build and
# test. Idempotent: installs only what is missing. Run as root.
# usage: bash scripts/deps.sh [PACKAGE...]   (other lists: scripts/bench-deps.sh)
set -eu
PKGS="${*:-build-essential clang libclang-rt-14-dev zlib1g-dev libxxhash-dev libjansson-dev
      libsqlite3-dev libmicrohttpd-dev libsodium-dev libcmocka-dev libsimdjson-dev python3 curl}"
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
