#!/usr/bin/env bash
# Compile the project's PixelMed launchers (every *.java here) against Debian's jar (called by `make setup`).
# Output: adapters/pixelmed/build/ (git-ignored). Skips, with a message, when javac or the jar is missing;
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
stamp="$out/.built"
srcs=("$here"/*.java)
fresh=1
[ -f "$stamp" ] && [ "$stamp" -nt "$jar" ] || fresh=0
for src in "${srcs[@]}"; do [ "$stamp" -nt "$src" ] || fresh=0; done
if [ "$fresh" = 1 ]; then
    exit 0
fi
mkdir -p "$out"
javac -nowarn -encoding UTF-8 -cp "$jar" -d "$out" "${srcs[@]}"
touch "$stamp"
echo "java: built ${srcs[*]##*/} into $out"
