#!/usr/bin/env bash
# Compile the project's Java launchers against Debian's jars (called by `make setup`).
# Output: adapters/java/build/ (git-ignored). Skips, with a message, when javac or the jar is missing;
# does nothing when the classes are newer than their sources.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/build"
jar="${PIXELMED_JAR:-/usr/share/java/pixelmed.jar}"
if ! command -v javac >/dev/null 2>&1; then
    echo "java: javac not found; PixelMed batch launcher not built (install default-jdk-headless)" >&2
    exit 0
fi
if [ ! -f "$jar" ]; then
    echo "java: $jar not found; PixelMed batch launcher not built (install pixelmed-apps)" >&2
    exit 0
fi
src="$here/PixelMedBatch.java"
cls="$out/PixelMedBatch.class"
if [ -f "$cls" ] && [ "$cls" -nt "$src" ] && [ "$cls" -nt "$jar" ]; then
    exit 0
fi
mkdir -p "$out"
javac -nowarn -encoding UTF-8 -cp "$jar" -d "$out" "$src"
echo "java: built $cls"
