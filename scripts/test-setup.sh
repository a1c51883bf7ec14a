#!/usr/bin/env bash
# System packages the tests need beyond the virtual environment: chromium (the report test
# opens the HTML page headless) and chromium-driver (the serve test drives the page through
# Selenium). Installs them only when missing; never fails the run when the package registry is
# unreachable: the tests that need them then say so and skip.
set -u
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v chromedriver >/dev/null 2>&1 || missing="$missing chromium-driver"
if [ -n "$missing" ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "test-setup: installing$missing for the report and serve browser tests"
  # shellcheck disable=SC2086
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing) \
    >/dev/null 2>&1 \
    || echo "test-setup:$missing could not be installed; the browser tests will skip"
elif [ -n "$missing" ]; then
  echo "test-setup:$missing missing (install as root: apt-get install -y$missing);" \
    "the browser tests will skip"
fi
exit 0
