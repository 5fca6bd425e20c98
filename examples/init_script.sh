#!/bin/bash
# Cluster init script: let pip install kronos from a private Azure Artifacts feed.
#
# It writes pip's global configuration with the feed as pip's only index, the
# token inside its URL. The feed must have PyPI as an upstream source, so that
# every other package comes through it too. Not adding the feed as an extra
# index to PyPI is deliberate: pip would then take a package of the same name
# from whichever index offers the higher version, and a public project named
# kronos exists on PyPI.
#
# The token is read from the PYPI_TOKEN environment variable, which the
# cluster sets from a secret:
#   PYPI_TOKEN={{secrets/<scope>/<key>}}
# The feed's address comes from PYPI_FEED_URL (host and path, without https://),
# for example pkgs.dev.azure.com/ORG/PROJECT/_packaging/FEED/pypi/simple/
#
# The token is never written to standard output or error: no tracing (set -x),
# no echo of the variable or of the configuration file.
set -euo pipefail

PIP_CONF="${PIP_CONF_TARGET:-/etc/pip.conf}"

if [[ -z "${PYPI_TOKEN:-}" ]]; then
    echo "kronos init script: PYPI_TOKEN is not set; set it on the cluster from a secret" >&2
    exit 1
fi
if [[ -z "${PYPI_FEED_URL:-}" ]]; then
    echo "kronos init script: PYPI_FEED_URL is not set; set it to the feed's pip index address" >&2
    exit 1
fi
feed="${PYPI_FEED_URL#https://}"

# Write to a file only root can read, then move it in place: a half-written
# file is never used, and the token never appears on a command line.
tmp="$(mktemp "${PIP_CONF}.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
chmod 600 "$tmp"
cat >"$tmp" <<PIPCONF
[global]
index-url = https://kronos:${PYPI_TOKEN}@${feed}
PIPCONF
# Library installation may run as another user than the init script.
chmod 644 "$tmp"
mv "$tmp" "$PIP_CONF"
trap - EXIT

echo "kronos init script: pip now installs from the feed at ${feed}"
