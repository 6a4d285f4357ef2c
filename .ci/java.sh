#!/usr/bin/env bash
# The Spark engine (pyspark 4) needs a Java 17+ runtime. Use the machine's if it has one;
# otherwise install a headless JRE from the OS packages (Debian/Ubuntu: apt), as root or sudo.
set -euo pipefail
version() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1; }
if command -v java >/dev/null 2>&1 && [ "$(version)" -ge 17 ] 2>/dev/null; then
    exit 0
fi
echo "no Java 17+ runtime found: installing one for the Spark engine (openjdk-17-jre-headless)" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if command -v apt-get >/dev/null 2>&1; then
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-17-jre-headless >&2 \
        || { $sudo apt-get update -q >&2 && $sudo env DEBIAN_FRONTEND=noninteractive \
                 apt-get install -y -q openjdk-17-jre-headless >&2; }
else
    echo "install a Java 17+ runtime (e.g. your OS's openjdk-17 package), then retry" >&2
    exit 1
fi
java -version 2>&1 | head -1 >&2
