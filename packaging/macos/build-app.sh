#!/usr/bin/env bash
# The macOS build, one step per call, for the hosted runner (.github/workflows/macos.yml)
# and for a person on a Mac:
#
#   packaging/macos/build-app.sh deps    the app and PyInstaller into the runner's Python
#   packaging/macos/build-app.sh app     PyInstaller: "dist/Presence Agent.app"
#   packaging/macos/build-app.sh dmg     dist/presence-agent-<version>.dmg (drag to Applications)
#   packaging/macos/build-app.sh smoke   copy the app as an MDM would, run it, check a preset
#
# DRY_RUN=1 does every step that can run anywhere (the version, the bundle's Info.plist
# keys, every input file, each command) and prints what only macOS can run.
# tests/test_workflows.py dry-runs each workflow step on Linux that way.
set -euo pipefail
cd "$(dirname "$0")/../.."

python=${PYTHON:-python3}
step=${1:?usage: packaging/macos/build-app.sh deps|app|dmg|smoke}
run() {
    if [ "${DRY_RUN:-}" = 1 ]; then printf 'dry-run:'; printf ' %q' "$@"; echo; else "$@"; fi
}
need() { for f in "$@"; do [ -e "$f" ] || { echo "missing: $f" >&2; exit 1; }; done; }

version=$("$python" -c "import presence_agent as p; print(p.__version__)")
app="dist/Presence Agent.app"
dmg=dist/presence-agent-$version.dmg
need packaging/presence-agent.spec packaging/macos/Info.plist assets/presence-agent.png
# The bundle id is also the LaunchAgent label and what macOS files permissions under.
"$python" - <<'PY'
import plistlib
info = plistlib.load(open("packaging/macos/Info.plist", "rb"))
assert info["LSUIElement"] is True and info["CFBundleIdentifier"], info
PY

case "$step" in
deps)
    run "$python" -m pip install --disable-pip-version-check --progress-bar off -e ".[package]"
    ;;
app)
    run "$python" -m PyInstaller --noconfirm --clean --log-level WARN \
        --workpath build/pyinstaller packaging/presence-agent.spec
    [ "${DRY_RUN:-}" = 1 ] || need "$app/Contents/MacOS/presence-agent"
    ;;
dmg)
    run hdiutil create -volname "Presence Agent" -srcfolder "$app" -ov -format UDZO "$dmg"
    ;;
smoke)
    target=${RUNNER_TEMP:-/tmp}/Applications
    run mkdir -p "$target"
    run ditto "$app" "$target/Presence Agent.app"
    exe="$target/Presence Agent.app/Contents/MacOS/presence-agent"
    run "$exe" --version
    run "$exe" preset --user --server desk.example.com
    run "$exe" doctor --json
    if [ "${DRY_RUN:-}" != 1 ]; then
        "$exe" --version | grep -x "presence-agent $version"
        "$exe" doctor --json | "$python" -c '
import json, sys
server = json.load(sys.stdin)["settings"]["server"]
assert server["value"] == "https://desk.example.com", server
print("preset server:", server)'
    fi
    ;;
*)
    echo "unknown step: $step (deps, app, dmg, smoke)" >&2
    exit 2
    ;;
esac
