#!/bin/sh
# Install the pinned solc compiler from npm (once, into the test cache) and rebuild
# the EVM test contracts' artifacts: tools/build_contracts.sh [--check]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=${WAIAAS_NPM_PREFIX:-$HOME/.cache/waiaas-tests/npm}
version=$(sed -n "s/^export const SOLC_VERSION = '\(.*\)'$/\1/p" "$here/build_contracts.mjs")
if ! node -e "process.exit(require('$prefix/node_modules/solc/package.json').version === '$version' ? 0 : 1)" 2>/dev/null; then
    npm install --prefix "$prefix" --no-audit --no-fund --save-exact "solc@$version"
fi
WAIAAS_NPM_PREFIX=$prefix exec node "$here/build_contracts.mjs" "$@"
