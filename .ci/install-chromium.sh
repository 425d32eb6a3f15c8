#!/usr/bin/env bash
# Install Debian's Chromium for the consoles' browser tests (Playwright for Python drives it
# through `executable_path="/usr/bin/chromium"`; no browser download works here).
set -euo pipefail
exec bash "$(dirname "$0")/apt-install.sh" chromium fonts-dejavu-core
