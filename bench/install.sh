#!/bin/sh
# Install what the HTTP benchmarks need besides the workspace's Python packages: wrk, the
# closed-loop load generator (Debian package "wrk"). Does nothing when it is already there.
set -eu
if command -v wrk >/dev/null 2>&1; then
    echo "wrk is installed: $(command -v wrk)"
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    apt-get update && apt-get install -y wrk
else
    sudo apt-get update && sudo apt-get install -y wrk
fi
