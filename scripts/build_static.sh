#!/usr/bin/env bash
# Copy GOV.UK Frontend and htmx (pinned in package.json / package-lock.json) into the
# Django static files at onecase/web/static/govuk/. Installs with `npm ci` only when
# node_modules is missing or was installed from a different package-lock.json.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
DEST="$ROOT/onecase/web/static/govuk"
GOVUK="$ROOT/node_modules/govuk-frontend/dist/govuk"
HTMX="$ROOT/node_modules/htmx.org/dist/htmx.min.js"
STAMP="$ROOT/node_modules/.onecase-lock.sha256"

if ! command -v npm >/dev/null 2>&1; then
    echo "npm is needed to install GOV.UK Frontend (apt-get install nodejs npm)." >&2
    exit 1
fi

lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$lock_sum" ] || [ ! -d "$GOVUK" ] || [ ! -f "$HTMX" ]; then
    npm ci --no-audit --no-fund
    echo "$lock_sum" > "$STAMP"
fi

rm -rf "$DEST"
mkdir -p "$DEST/assets"

# The precompiled stylesheet points at /assets/...; make the paths relative to the
# stylesheet so fonts and images load from wherever STATIC_URL puts them.
sed 's#url(/assets/#url(assets/#g' "$GOVUK/govuk-frontend.min.css" > "$DEST/govuk-frontend.min.css"
cp "$GOVUK/govuk-frontend.min.css.map" "$DEST/"
cp "$GOVUK/govuk-frontend.min.js" "$GOVUK/govuk-frontend.min.js.map" "$DEST/"
cp -R "$GOVUK/assets/fonts" "$GOVUK/assets/images" "$GOVUK/assets/manifest.json" "$DEST/assets/"
cp "$HTMX" "$DEST/htmx.min.js"

if grep -q 'url(/' "$DEST/govuk-frontend.min.css"; then
    echo "govuk-frontend.min.css still has absolute url() paths" >&2
    exit 1
fi

version=$(node -p "require('$ROOT/node_modules/govuk-frontend/package.json').version")
htmx_version=$(node -p "require('$ROOT/node_modules/htmx.org/package.json').version")
echo "GOV.UK Frontend $version and htmx $htmx_version copied to onecase/web/static/govuk/"
