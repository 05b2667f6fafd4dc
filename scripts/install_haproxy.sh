#!/usr/bin/env bash
# Debian's HAProxy for the replica test (tests/scale/test_replicas.py: two gateways behind one balancer).
# Quick when `haproxy` is already there; otherwise installs the `haproxy` package with apt-get as root,
# or through sudo when available, and else says what to install and fails. The package's own service
# is never used: the test starts its own haproxy on a loopback port and ends it.
set -euo pipefail

if command -v haproxy >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "install_haproxy.sh: HAProxy is missing; as root: apt-get install haproxy" >&2
    exit 1
fi
echo "Installing Debian's haproxy (apt-get) ..."
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# policy-rc.d may refuse to start the packaged service in a container: that is fine, it is not used.
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy >/dev/null
haproxy -v | head -n 1
