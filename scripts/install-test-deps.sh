#!/usr/bin/env bash
# Install the system packages the workspace's tests drive, if missing.
# Debian packages only; safe to run again.
set -euo pipefail

packages=()
need() { command -v "$1" >/dev/null 2>&1 || packages+=("$2"); }
need openssl openssl            # a test certificate for nginx's HTTPS entry point (deploy_nginx.rs)
need nginx nginx                # a real reverse proxy for the deployment tests (tests/tests/deploy_nginx.rs)
need lighttpd lighttpd          # a real CGI host for the gateway matrix (tests/tests/gateway_matrix.rs)
need chromium chromium          # a real browser for the todo page (tests/tests/todo_browser.rs)
need chromedriver chromium-driver # drives it over WebDriver

if [ ${#packages[@]} -gt 0 ]; then
  echo "installing: ${packages[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${packages[@]}" >/dev/null
fi
