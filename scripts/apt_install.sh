# Sourced by the build scripts: installs missing tools from Debian's packages.
# Needs a log function (log MESSAGE) defined by the sourcing script.

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    log "need root to run: $*"; return 1; fi
}

apt_install() {
  as_root apt-get update && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
}
