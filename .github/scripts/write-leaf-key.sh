#!/usr/bin/env bash
# write-leaf-key.sh - puts the TLS leaf key (secret TLS_LEAF_KEY) where stack.toml's [tls]
# leaf_key points ($LEAF_KEY_PATH), readable by the runner's user only. Terraform copies it to
# the monitoring VM; the workflow removes it when the job ends. Without the secret it does
# nothing, and `cargo xtask plan monitoring` says the key is missing when TLS is on.
set -euo pipefail
: "${LEAF_KEY_PATH:?LEAF_KEY_PATH is not set}"
if [ -z "${TLS_LEAF_KEY:-}" ]; then
  echo "write-leaf-key: the TLS_LEAF_KEY secret is not set; no key written"
  exit 0
fi
umask 077
mkdir -p "$(dirname "$LEAF_KEY_PATH")"
printf '%s\n' "$TLS_LEAF_KEY" >"$LEAF_KEY_PATH"
echo "write-leaf-key: wrote $LEAF_KEY_PATH"
