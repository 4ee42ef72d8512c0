#!/usr/bin/env bash
# The Windows build, one step per call, for the hosted runner (.github/workflows/windows.yml,
# Git Bash) and for a person on Windows:
#
#   packaging/windows/build.sh deps        the app and PyInstaller into the runner's Python
#   packaging/windows/build.sh binary      PyInstaller --onedir: dist/onedir/presence-agent/
#   packaging/windows/build.sh installer   Inno Setup: dist/presence-agent-setup-<version>.exe
#   packaging/windows/build.sh smoke       silent install with /SERVER=, then run the installed exe
#
# DRY_RUN=1 does every step that can run anywhere (reading the version and the project's
# identity, checking every input file, composing each command) and prints, instead of
# running, what only Windows can run. tests/test_workflows.py dry-runs each workflow step
# on Linux that way. PYTHON picks the interpreter (default: python), ISCC the Inno compiler.
set -euo pipefail
cd "$(dirname "$0")/../.."

python=${PYTHON:-python}
step=${1:?usage: packaging/windows/build.sh deps|binary|installer|smoke}
run() {
    if [ "${DRY_RUN:-}" = 1 ]; then printf 'dry-run:'; printf ' %q' "$@"; echo; else "$@"; fi
}
identity() { "$python" -c "import presence_agent as p; print(p.$1)"; }
need() { for f in "$@"; do [ -e "$f" ] || { echo "missing: $f" >&2; exit 1; }; done; }

version=$(identity __version__)
setup=dist/presence-agent-setup-$version.exe
need packaging/presence-agent.spec packaging/windows/presence-agent.iss assets/presence-agent.ico

case "$step" in
deps)
    run "$python" -m pip install --disable-pip-version-check --progress-bar off -e ".[package]"
    ;;
binary)
    run "$python" -m PyInstaller --noconfirm --clean --log-level WARN \
        --workpath build/pyinstaller --distpath dist/onedir packaging/presence-agent.spec -- --onedir
    [ "${DRY_RUN:-}" = 1 ] || need dist/onedir/presence-agent/presence-agent.exe
    ;;
installer)
    iscc=${ISCC:-"/c/Program Files (x86)/Inno Setup 6/ISCC.exe"}
    # The publisher and URL come from the one place (presence_agent/__init__.py).
    run "$iscc" "/DAppVersion=$version" "/DAppURL=$(identity PROJECT_URL)" \
        "/DAppPublisherName=$(identity MAINTAINER_NAME)" packaging/windows/presence-agent.iss
    [ "${DRY_RUN:-}" = 1 ] || need "$setup"
    ;;
smoke)
    # What an admin's deployment tool runs: silent, per user, server preset, no start-up run.
    dir=${RUNNER_TEMP:-/tmp}/presence-agent-smoke
    run "$setup" /VERYSILENT /SUPPRESSMSGBOXES /NORESTART /CURRENTUSER "/DIR=$dir" \
        /SERVER=desk.example.com "/LOG=$dir-setup.log"
    run "$dir/presence-agent.exe" --version
    run "$dir/presence-agent.exe" doctor --json
    if [ "${DRY_RUN:-}" != 1 ]; then
        "$dir/presence-agent.exe" --version | grep -x "presence-agent $version"
        # The preset landed where doctor reads it, with the https:// a bare host means.
        "$dir/presence-agent.exe" doctor --json | "$python" -c '
import json, sys
server = json.load(sys.stdin)["settings"]["server"]
assert server["value"] == "https://desk.example.com", server
print("preset server:", server)'
        "$dir/unins000.exe" /VERYSILENT /SUPPRESSMSGBOXES /NORESTART
    fi
    ;;
*)
    echo "unknown step: $step (deps, binary, installer, smoke)" >&2
    exit 2
    ;;
esac
