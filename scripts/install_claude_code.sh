#!/usr/bin/env bash
# Install the pinned Claude Code CLI into .cache/claude-code for the end-to-end tests.
# Idempotent: when the binary is already there at the pinned version it returns at once.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="${CLAUDE_CODE_VERSION:-2.1.330}"
PREFIX=".cache/claude-code"
BIN="$PREFIX/node_modules/.bin/claude"
MANIFEST="$PREFIX/node_modules/@anthropic-ai/claude-code/package.json"

installed_version() {
    [ -x "$BIN" ] && [ -f "$MANIFEST" ] || return 0
    node -p "require('./$MANIFEST').version" 2>/dev/null || true
}

if [ "$(installed_version)" = "$VERSION" ]; then
    echo "claude-code $VERSION already installed in $PREFIX"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "install_claude_code.sh: npm is required to install @anthropic-ai/claude-code" >&2
    exit 1
fi

echo "Installing @anthropic-ai/claude-code@$VERSION into $PREFIX ..."
mkdir -p "$PREFIX"
npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error \
    --save-exact "@anthropic-ai/claude-code@$VERSION"

if [ "$(installed_version)" != "$VERSION" ]; then
    echo "install_claude_code.sh: $BIN is missing or not version $VERSION after npm install" >&2
    exit 1
fi
"$BIN" --version
