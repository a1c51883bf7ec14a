#!/usr/bin/env bash
# System packages the tests need beyond the virtual environment (the report test opens the
# HTML page in headless Chromium). Installs them only when missing; never fails the run when
# the package registry is unreachable: the tests that need them then say so and skip.
set -u
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "test-setup: installing chromium for the report test"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
    || echo "test-setup: chromium could not be installed; the report browser test will skip"
fi
exit 0
