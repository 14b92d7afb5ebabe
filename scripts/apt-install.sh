#!/usr/bin/env bash
# Installs Debian packages the project's scripts need (as root, or through sudo). All output goes
# to stderr: callers print paths on stdout.
#   scripts/apt-install.sh PACKAGE...
set -euo pipefail
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "$@" >&2
