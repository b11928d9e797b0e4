#!/usr/bin/env bash
# Build and run examples/java-consumer, a Maven project that depends on the xpcvae library
# (org.xpcvae:xpcvae) as any Java project would:
#   1. publishes the library to the project-local Maven repository java/build/maven-repo
#      (bash scripts/java_build.sh publish);
#   2. builds the consumer with Maven, which takes org.xpcvae:xpcvae from that repository and
#      the library's dependencies (ONNX Runtime, Gson, picocli) and Maven's plugins from Maven
#      Central, caching them in the project-local repository build/m2;
#   3. runs it (exec:java): it samples the first spectrum of examples/spectra.csv with
#      export/default and prints the summary.
# Installs Maven (Debian package) if it is missing. XPCVAE_MVN_OFFLINE=1 builds with mvn -o
# (everything already in build/m2).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { echo "java_consumer: $*" >&2; }
# shellcheck source=scripts/apt_install.sh
source "$ROOT/scripts/apt_install.sh"

if ! command -v mvn >/dev/null 2>&1; then
  log "mvn not found: installing the Debian package"
  apt_install maven
fi

bash "$ROOT/scripts/java_build.sh" publish

# the version just published: pyproject.toml's, which build.gradle reads too
VERSION="$(sed -n '/^\[project\]/,/^\[/ s/^version *= *"\(.*\)"/\1/p' "$ROOT/pyproject.toml")"
M2="$ROOT/build/m2"
# Maven never re-downloads a release it has cached: drop the copy of an earlier publication
rm -rf "$M2/org/xpcvae/xpcvae"

MVN=(mvn -B -q -Dstyle.color=never -f "$ROOT/examples/java-consumer/pom.xml" "-Dmaven.repo.local=$M2" "-Dxpcvae.version=$VERSION")
[ "${XPCVAE_MVN_OFFLINE:-0}" = 1 ] && MVN+=(-o)
log "building and running examples/java-consumer against org.xpcvae:xpcvae:$VERSION"
# (Maven 3.8's console writes an ANSI reset before the program's output even in batch mode)
OUT="$("${MVN[@]}" compile exec:java | sed 's/\x1b\[[0-9;]*m//g')"
echo "$OUT"

# the summary's header and its table (teff is the first parameter)
if ! grep -q "posterior draws" <<<"$OUT" || ! grep -q "^teff " <<<"$OUT"; then
  log "the consumer printed no summary"
  exit 1
fi
log "ok: the consumer built against org.xpcvae:xpcvae:$VERSION and printed the summary"
