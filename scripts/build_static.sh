#!/usr/bin/env bash
# Placeholder until GOV.UK Frontend is wired in.
set -euo pipefail
mkdir -p onecase/web/static/govuk
