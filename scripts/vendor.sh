#!/usr/bin/env bash
# Copy the front-end files the app serves from their npm packages.
# The versions here and in chat/static/vendor/README.md must agree.
set -euo pipefail
cd "$(dirname "$0")/.."
BOOTSTRAP=5.3.8
SOCKETIO_CLIENT=4.8.4

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack -q "bootstrap@$BOOTSTRAP" "socket.io-client@$SOCKETIO_CLIENT" >/dev/null)
for tgz in "$work"/*.tgz; do
  mkdir "${tgz%.tgz}" && tar xzf "$tgz" -C "${tgz%.tgz}"
done
vendor=chat/static/vendor
cp "$work/bootstrap-$BOOTSTRAP/package/dist/css/bootstrap.min.css" "$vendor/bootstrap/"
cp "$work/bootstrap-$BOOTSTRAP/package/LICENSE" "$vendor/bootstrap/LICENSE"
cp "$work/socket.io-client-$SOCKETIO_CLIENT/package/dist/socket.io.esm.min.js" "$vendor/socket.io/"
cp "$work/socket.io-client-$SOCKETIO_CLIENT/package/LICENSE" "$vendor/socket.io/LICENSE"
sha256sum "$vendor"/*/*.{css,js}
