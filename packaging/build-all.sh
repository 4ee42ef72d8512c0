#!/usr/bin/env bash
# Build every Linux artifact a user installs, each once, into dist/:
#
#   dist/presence_agent-<version>-py3-none-any.whl   pipx install ./dist/presence_agent-*.whl
#   dist/presence_agent-<version>.tar.gz              the sdist
#   dist/presence-agent                               the standalone binary (smoke-tested)
#   dist/onedir/presence-agent/                       the same build as a folder (.deb payload)
#   dist/presence-agent_<version>_<arch>.deb          apt-get install ./dist/presence-agent_*.deb
#
#   packaging/build-all.sh
#
# PYTHON picks the interpreter with the app, PyInstaller and `build` installed
# (default .venv/bin/python). CI runs this once (.ci/run); the tests in
# tests/test_artifacts.py then install each artifact as a user would.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-}
if [ -z "$python" ]; then
    if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python=python3; fi
fi
export PYTHON=$python
start=$SECONDS
step() { echo "== build-all: $* ($((SECONDS - start)) s)"; }

mkdir -p dist build
rm -f dist/presence_agent-*.whl dist/presence_agent-*.tar.gz dist/presence-agent_*.deb

step "wheel and sdist"
"$python" -m build --sdist --wheel --outdir dist . >build/python-build.log 2>&1 \
    || { cat build/python-build.log; exit 1; }
ls dist/presence_agent-*.whl dist/presence_agent-*.tar.gz

step "standalone binary and its folder (one PyInstaller analysis)"
packaging/build-linux.sh

step ".deb from that folder"
packaging/linux/build-deb.sh

step "done"
ls -l dist
