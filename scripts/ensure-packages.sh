#!/usr/bin/env bash
# Install the Debian packages that are missing.
# Usage: scripts/ensure-packages.sh PROGRAM=PACKAGE ... | PACKAGE ...
# PROGRAM is a command name or an absolute path whose absence means the
# package is missing; a bare PACKAGE is looked up with dpkg. Nothing is
# installed when everything is already there.
set -euo pipefail

missing=()
for pair in "$@"; do
  if [[ $pair != *=* ]]; then
    dpkg -s "$pair" >/dev/null 2>&1 || missing+=("$pair")
    continue
  fi
  program=${pair%%=*}
  package=${pair#*=}
  if [[ $program == /* ]]; then
    [[ -x $program ]] || missing+=("$package")
  else
    command -v "$program" >/dev/null 2>&1 || missing+=("$package")
  fi
done
((${#missing[@]})) || exit 0

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "Need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "Installing Debian packages: ${missing[*]}"
"${sudo[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q "${missing[@]}"
