#!/usr/bin/env bash
# Build the Java module (org.xpcvae) with Gradle.
#
#   bash scripts/java_build.sh          build java/build/install/xpcvae/{bin/xpcvae,lib/*.jar} and the
#                                       harness jar java/build/bench/xpcvae-bench.jar (Bench, Soak)
#   bash scripts/java_build.sh test     run the JUnit tests, then build the above
#   bash scripts/java_build.sh publish  build the above and publish org.xpcvae:xpcvae (jar, sources,
#                                       javadoc, POM) to the Maven repository java/build/maven-repo
#
# Works from a clean clone: installs Gradle (Debian package) if it is missing, and makes the
# Maven Central dependencies (java/dependencies.txt, and the Spark job's java/spark/dependencies.txt)
# available to Gradle:
#   1. if build/m2 holds a complete Maven-fetched copy of them, Gradle runs --offline on it;
#   2. else, if Gradle can download them itself (checked once per dependency list and
#      remembered in build/java-deps/), it does (should that stop working later, 3 follows);
#   3. else Maven (`mvn dependency:get`) fetches them into build/m2, a project-local Maven
#      repository that build.gradle lists first, and Gradle runs --offline.
# XPCVAE_JAVA_DEPS=maven forces 3, XPCVAE_JAVA_DEPS=gradle forces 2.
# The JUnit tests use the bundle $XPCVAE_TEST_BUNDLE, else export/default, else export/tiny.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODE="${1:-build}"
case "$MODE" in
  build) TASKS=(installDist benchJar) ;;
  test) TASKS=(test installDist benchJar) ;;
  # publishToMavenLocal into a chosen directory: Debian's Gradle 4.4 cannot publish to a declared
  # file repository (build.gradle)
  publish) TASKS=(installDist benchJar publishToMavenLocal "-Dmaven.repo.local=$ROOT/java/build/maven-repo") ;;
  *) echo "usage: $0 [test|publish]" >&2; exit 2 ;;
esac

log() { echo "java_build: $*" >&2; }
# shellcheck source=scripts/apt_install.sh
source "$ROOT/scripts/apt_install.sh"

if ! command -v gradle >/dev/null 2>&1; then
  log "gradle not found: installing the Debian package"
  apt_install gradle
fi
if ! command -v javac >/dev/null 2>&1; then
  log "javac not found: installing a JDK"
  apt_install default-jdk-headless
fi

DEPS_FILES=("$ROOT/java/dependencies.txt" "$ROOT/java/spark/dependencies.txt")
M2="$ROOT/build/m2"
STATE="$ROOT/build/java-deps"
DEPS_HASH="$(cat "${DEPS_FILES[@]}" | grep -v '^[[:space:]]*#' | sha256sum | cut -c1-16)"
MAVEN_STAMP="$M2/.xpcvae-complete-$DEPS_HASH"
GRADLE_STAMP="$STATE/gradle-online-ok-$DEPS_HASH"
mkdir -p "$STATE"

GRADLE=(gradle --no-daemon -p "$ROOT")
QUIET=(-q)
[ "$MODE" = test ] && QUIET=()   # show test failures and the test count

fetch_with_maven() {
  if ! command -v mvn >/dev/null 2>&1; then
    log "mvn not found: installing the Debian package"
    apt_install maven
  fi
  log "fetching dependencies with Maven into build/m2"
  mkdir -p "$M2"
  local conf coord
  while read -r conf coord _; do
    case "$conf" in ''|'#'*) continue ;; esac
    mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.8.1:get \
      -Dartifact="$coord" -Dtransitive=true -Dmaven.repo.local="$M2"
  done < <(cat "${DEPS_FILES[@]}")
  # Maven keeps one version of each module (the nearest) and fetches only its files; Gradle reads
  # the POM of every version in the graph, takes the newest, and wants every classifier's jar
  # (Spark's tree differs in dozens of modules). Fetch, module by module, what Gradle's offline
  # resolution still misses, until it has everything (new POMs can name more: a few rounds).
  local round missing
  for round in 1 2 3 4 5 6 7 8 9 10; do
    missing="$("${GRADLE[@]}" -q --offline xpcvaeResolveDependencies 2>&1 | missing_coordinates || true)"
    [ -z "$missing" ] && break
    log "fetching $(wc -w <<<"$missing") more artifacts that Gradle's resolution needs (round $round)"
    for coord in $missing; do
      mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.8.1:get \
        -Dartifact="$coord" -Dtransitive=false -Dmaven.repo.local="$M2" || true
    done
  done
  [ -z "$missing" ] || { log "Gradle still misses: $missing"; return 1; }
  touch "$MAVEN_STAMP"
}

# The coordinates (group:artifact:version[:jar:classifier]) of Gradle's "Could not resolve/find" lines.
missing_coordinates() {
  local name coord artifact
  sed -nE -e 's/.*Could not (resolve|find) ([^ :]+:[^ :]+:[^ :]+)\.$/\2/p' \
          -e 's/.*Could not find ([^ ]+)\.jar \(([^ )]+)\)\.$/\1 \2/p' | sort -u |
  while read -r name coord; do
    if [ -z "$coord" ]; then echo "$name"; continue; fi
    artifact="$(cut -d: -f2 <<<"$coord")"
    if [ "$name" = "$artifact" ]; then echo "$coord"; else echo "$coord:jar:${name#"$artifact"-}"; fi
  done
}

DEPS_MODE="${XPCVAE_JAVA_DEPS:-auto}"
OFFLINE=()
if [ "$DEPS_MODE" != gradle ] && [ -f "$MAVEN_STAMP" ]; then
  OFFLINE=(--offline)
elif [ "$DEPS_MODE" != maven ] && { [ -f "$GRADLE_STAMP" ] || \
    { log "resolving dependencies with Gradle"; "${GRADLE[@]}" -q xpcvaeResolveDependencies; }; }; then
  touch "$GRADLE_STAMP"
else
  [ "$DEPS_MODE" = gradle ] && { log "Gradle could not resolve the dependencies"; exit 1; }
  [ "$DEPS_MODE" = maven ] || log "Gradle could not download the dependencies; using Maven"
  fetch_with_maven
  OFFLINE=(--offline)
fi

run_gradle() {
  "${GRADLE[@]}" ${QUIET[@]+"${QUIET[@]}"} ${OFFLINE[@]+"${OFFLINE[@]}"} "${TASKS[@]}"
}

if ! run_gradle; then
  # Online mode on the strength of an earlier check, but Gradle's cache may have been emptied
  # since and the download failed: if the dependencies are indeed not resolvable, fetch them
  # with Maven and build once more (a genuine compile or test failure just fails).
  if [ ${#OFFLINE[@]} -eq 0 ] && [ "$DEPS_MODE" = auto ] && \
      ! "${GRADLE[@]}" -q --offline xpcvaeResolveDependencies >/dev/null 2>&1; then
    log "dependencies missing from Gradle's cache and not downloadable; using Maven"
    rm -f "$GRADLE_STAMP"
    fetch_with_maven
    OFFLINE=(--offline)
    run_gradle
  else
    exit 1
  fi
fi
log "built $ROOT/java/build/install/xpcvae (bin/xpcvae, lib/*.jar) and java/build/bench/xpcvae-bench.jar"
if [ "$MODE" = publish ]; then
  log "published org.xpcvae:xpcvae to $ROOT/java/build/maven-repo"
fi
