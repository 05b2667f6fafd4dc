#!/usr/bin/env bash
# Debian's Chromium for the admin browser test (Playwright's own browser download is never used).
# Quick when CHROMIUM_BIN or `chromium` is already there; otherwise installs the `chromium` package
# with apt-get as root, or through sudo when available, and else says what to install and fails.
set -euo pipefail

if [ -x "${CHROMIUM_BIN:-}" ] || command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "install_chromium.sh: Chromium is missing; as root: apt-get install chromium (or set CHROMIUM_BIN)" >&2
    exit 1
fi
echo "Installing Debian's chromium (apt-get) ..."
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
chromium --version
