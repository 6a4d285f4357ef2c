#!/usr/bin/env bash
# The report tests render HTML in headless Chromium: Debian's chromium package (driven by
# Playwright with executablePath=/usr/bin/chromium). Installed from the OS packages if missing.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
echo "no /usr/bin/chromium: installing Debian's chromium for the report tests" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if command -v apt-get >/dev/null 2>&1; then
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2 \
        || { $sudo apt-get update -q >&2 && $sudo env DEBIAN_FRONTEND=noninteractive \
                 apt-get install -y -q chromium >&2; }
else
    echo "install Chromium at /usr/bin/chromium (your OS's chromium package), then retry" >&2
    exit 1
fi
