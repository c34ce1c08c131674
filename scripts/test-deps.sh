#!/usr/bin/env bash
# System packages the test suite needs beyond Python (installed only when missing).
# Debian's chromium renders the HTML reports in headless tests; Debian's postgresql is the real server the
# gateway's scale-out tests start (on a temp data dir and a free loopback port, as the postgres user).
# Without root or apt they are skipped locally (the tests that need them say so) but CI (CI=true) must have them.
set -u
can_apt() { command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; }
apt_updated=0
apt_install() {  # apt_install PACKAGE: apt-get update once, then install
  if [ "$apt_updated" = 0 ]; then apt-get update -qq && apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
}
if ! command -v chromium >/dev/null 2>&1; then
  if can_apt; then
    echo "installing Debian's chromium for the HTML report tests ..."
    apt_install chromium || echo "warning: could not install chromium"
  else
    echo "note: chromium not found and cannot be installed here; browser tests will skip (fail under CI=true)"
  fi
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if can_apt; then
    echo "installing Debian's postgresql for the gateway scale-out tests ..."
    apt_install postgresql || echo "warning: could not install postgresql"
  else
    echo "note: postgresql not found and cannot be installed here; PostgreSQL tests will skip (fail under CI=true)"
  fi
fi
exit 0
