#!/usr/bin/env bash
# Make this checkout ready to test and run kronos: check Java, build .venv with
# the pinned packages and kronos itself, fetch the Delta Lake jars Spark needs
# and, with --with-postgres, install a PostgreSQL server for the tests that use
# one. Every step is skipped when it is already done, so running it again is
# quick.
#
# Usage: scripts/bootstrap.sh [--with-postgres]
#
# The jars go to .cache/jars, or to the folder named by KRONOS_JARS_DIR.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
STAMP="$VENV/.kronos-bootstrap"
JARS_DIR="${KRONOS_JARS_DIR:-$ROOT/.cache/jars}"
PIP_VERSION="26.3"
MIN_JAVA=17
DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

say() { echo "bootstrap: $*"; }
fail() {
    echo "bootstrap: $*" >&2
    exit 1
}

with_postgres=false
for arg in "$@"; do
    case "$arg" in
        --with-postgres) with_postgres=true ;;
        -h | --help)
            sed -n 's/^# \{0,1\}//; 2,9p' "${BASH_SOURCE[0]}"
            exit 0
            ;;
        *) fail "unknown option '$arg' (known: --with-postgres)" ;;
    esac
done

started=$SECONDS

check_java() {
    # Spark starts the java of JAVA_HOME when it is set, else the one on PATH.
    local java="java"
    if [[ -n "${JAVA_HOME:-}" ]]; then
        java="$JAVA_HOME/bin/java"
    fi
    if ! command -v "$java" >/dev/null 2>&1; then
        fail "Java $MIN_JAVA or newer is needed by Spark and '$java' was not found: install openjdk-$MIN_JAVA-jre-headless"
    fi

    local version major
    version="$("$java" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1 || true)"
    major="${version%%.*}"
    if [[ "$major" == "1" ]]; then
        # Java 8 and older call themselves 1.8, 1.7, ...
        major="$(cut -d. -f2 <<<"$version")"
    fi
    if ! [[ "$major" =~ ^[0-9]+$ ]] || ((major < MIN_JAVA)); then
        fail "Java $MIN_JAVA or newer is needed by Spark, found '${version:-no version}' at $(command -v "$java")"
    fi
    say "java $version"
}

install_postgres() {
    if compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
        say "PostgreSQL server already installed"
        return
    fi
    local as_root=()
    if [[ "$(id -u)" -ne 0 ]]; then
        if ! command -v sudo >/dev/null 2>&1 || ! sudo -n true 2>/dev/null; then
            fail "installing PostgreSQL needs root: run 'apt-get install -y postgresql' as root"
        fi
        as_root=(sudo -n)
    fi
    say "installing PostgreSQL server from Debian"
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends postgresql >/dev/null
}

pick_python() {
    local candidate
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    fail "Python 3.11 is needed and neither python3.11 nor python3 is Python 3.11"
}

build_venv() {
    local wanted
    wanted="$(cat requirements.txt setup.py | sha256sum | cut -d' ' -f1)"

    if [[ -x "$VENV/bin/python" ]] &&
        ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
        say ".venv is not Python 3.11 (or is broken): building it again"
        rm -rf "$VENV"
    fi
    if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$wanted" ]]; then
        say ".venv up to date"
        return
    fi

    if [[ ! -x "$VENV/bin/python" ]]; then
        local python
        python="$(pick_python)"
        say "creating .venv with $python"
        "$python" -m venv "$VENV"
    fi
    say "installing requirements.txt and kronos into .venv"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip==$PIP_VERSION"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt
    # setuptools comes pinned from requirements.txt, so no isolated build
    # environment has to be downloaded for the editable install.
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-build-isolation -e .
    echo "$wanted" >"$STAMP"
}

fetch_jar() {
    local coordinates="$1" file="$2"
    command -v mvn >/dev/null 2>&1 ||
        fail "Maven ('mvn') is needed to fetch $coordinates: install maven"
    say "fetching $coordinates"
    # Maven's output is shown only when it fails: even when quiet it prints
    # stray terminal escapes.
    local output
    if ! output="$(mvn --batch-mode --quiet "$DEPENDENCY_PLUGIN:copy" \
        -Dartifact="$coordinates" -DoutputDirectory="$JARS_DIR" 2>&1)"; then
        printf '%s\n' "$output" >&2
        fail "could not fetch $coordinates from Maven Central (Maven's output is above)"
    fi
    [[ -f "$JARS_DIR/$file" ]] || fail "Maven did not write $JARS_DIR/$file"
}

fetch_jars() {
    local facts spark_version delta_version scala spark_jars
    facts="$("$VENV/bin/python" - <<'PY'
import importlib.metadata as metadata
import pathlib
import re

import pyspark

jars = pathlib.Path(pyspark.__file__).parent / "jars"
library = next(jars.glob("scala-library-*.jar"))
scala = re.match(r"scala-library-(\d+\.\d+)\.", library.name).group(1)
print(metadata.version("pyspark"), metadata.version("delta-spark"), scala, jars)
PY
)"
    read -r spark_version delta_version scala spark_jars <<<"$facts"
    local spark_line="${spark_version%.*}"

    mkdir -p "$JARS_DIR"

    # delta-spark's own configure_spark_with_delta_pip asks for the artifact
    # built for this Spark line, e.g. delta-spark_4.2_2.13.
    local delta_artifact="delta-spark_${spark_line}_${scala}"
    local delta_jar="$delta_artifact-$delta_version.jar"
    local storage_jar="delta-storage-$delta_version.jar"
    if [[ -f "$JARS_DIR/$delta_jar" && -f "$JARS_DIR/$storage_jar" ]]; then
        say "Delta Lake $delta_version jars present in $JARS_DIR"
    else
        # Jars of another Delta version would end up on the same classpath.
        find "$JARS_DIR" -maxdepth 1 \( -name 'delta-spark_*.jar' -o -name 'delta-storage-*.jar' \) -delete
        fetch_jar "io.delta:$delta_artifact:$delta_version" "$delta_jar"
        fetch_jar "io.delta:delta-storage:$delta_version" "$storage_jar"
    fi

    # Spark Connect's server ships inside pyspark from 4.0 on; older wheels
    # need it fetched.
    if compgen -G "$spark_jars/spark-connect_*.jar" >/dev/null; then
        say "Spark Connect server jar ships with pyspark $spark_version"
    elif compgen -G "$JARS_DIR/spark-connect_${scala}-$spark_version.jar" >/dev/null; then
        say "Spark Connect $spark_version jar present in $JARS_DIR"
    else
        fetch_jar "org.apache.spark:spark-connect_${scala}:$spark_version" \
            "spark-connect_${scala}-$spark_version.jar"
    fi
}

check_java
if $with_postgres; then
    install_postgres
fi
build_venv
fetch_jars
say "ready in $((SECONDS - started))s"
