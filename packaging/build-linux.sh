#!/usr/bin/env bash
# Build the standalone Linux executable dist/presence-agent with PyInstaller (and,
# from the same analysis, the folder dist/onedir/presence-agent/ that the .deb
# ships), then prove the executable works with no Python behind it.
#
#   packaging/build-linux.sh            build, then smoke-test
#   SKIP_BUILD=1 packaging/build-linux.sh   smoke-test an existing dist/presence-agent
#
# PYTHON picks the interpreter that has the app and PyInstaller installed
# (default: .venv/bin/python if there is one, else python3).
#
# The smoke test runs the binary with an empty environment and a PATH with
# nothing on it. Where it may (root, or a user namespace), it also runs it in a
# private mount namespace with every Python standard library and site-packages
# of this machine hidden under an empty tmpfs, and first checks that Python
# itself no longer starts there, so "works without Python" is shown, not assumed.
# Checks: --version, doctor (exit 0 or 1, no traceback, no missing module),
# autostart enable/status/disable against a scratch HOME, and doctor again on a
# private Xvfb when Xvfb is installed, so the X11 and GTK code paths load too.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

python=${PYTHON:-}
if [ -z "$python" ]; then
    if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python=python3; fi
fi
version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' presence_agent/__init__.py)
binary=$root/dist/presence-agent

if [ "${SKIP_BUILD:-}" != 1 ]; then
    # Exactly the locked libraries (and PyInstaller) go into the binary: install any that
    # are missing or different, checked against the lock's hashes.
    echo "== installing requirements/dev.txt (hashes checked) into $python's environment"
    "$python" -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
        -r requirements/dev.txt
    echo "== building dist/presence-agent $version with $python"
    # One analysis, two outputs: dist/presence-agent (this script tests it) and
    # dist/onedir/presence-agent/ (the .deb's payload; build-deb.sh reuses it).
    rm -rf dist/onedir/presence-agent dist/presence-agent-onedir dist/presence-agent
    "$python" -m PyInstaller --noconfirm --clean --log-level ERROR \
        --workpath build/pyinstaller --distpath dist packaging/presence-agent.spec -- --both
    mkdir -p dist/onedir
    mv dist/presence-agent-onedir dist/onedir/presence-agent
fi
[ -x "$binary" ] || { echo "no executable at $binary" >&2; exit 1; }
echo "== $(du -h "$binary" | cut -f1) $binary"

scratch=$(mktemp -d)
xvfb_pid=
cleanup() {
    if [ -n "$xvfb_pid" ]; then kill "$xvfb_pid" 2>/dev/null || true; fi
    rm -rf "$scratch"
}
trap cleanup EXIT
mkdir -p "$scratch/home" "$scratch/empty-path"
mkdir -m 700 "$scratch/runtime"
clean_env=(env -i "HOME=$scratch/home" "PATH=$scratch/empty-path" "LANG=C.UTF-8"
    "XDG_RUNTIME_DIR=$scratch/runtime")

# Every lib/python3.* directory this machine's Pythons use.
mapfile -t python_dirs < <("$python" - <<'EOF'
import glob, sys
prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, "/usr", "/usr/local"}
for d in sorted({d for p in prefixes for d in glob.glob(p + "/lib/python3*")}):
    print(d)
EOF
)

# run_hidden CMD...: CMD in a mount namespace where those directories are empty.
run_hidden() {
    # shellcheck disable=SC2016  # the inner sh expands these, not this one
    unshare --mount -- sh -c '
        while [ "$1" != -- ]; do mount -t tmpfs -o ro,size=1k none "$1" || exit 97; shift; done
        shift
        exec "$@"' sh "${python_dirs[@]}" -- "$@"
}

isolate=0
if unshare --mount -- true 2>/dev/null; then
    if run_hidden "$python" -c "import encodings" >/dev/null 2>&1; then
        echo "!! Python still starts with ${python_dirs[*]} hidden; testing with env -i only"
    elif [ $? -eq 97 ]; then
        echo "!! cannot mount in a namespace here; testing with env -i only"
    else
        isolate=1
        echo "== Python hidden: ${python_dirs[*]} (Python itself no longer starts)"
    fi
else
    echo "!! no mount namespace here (needs root or user namespaces); testing with env -i only"
fi

failed=0
wrap=()  # a program that runs the binary, e.g. inside a D-Bus session
frozen_stdin=  # a file for the binary's stdin (default /dev/null)
# frozen NAME ALLOWED_CODES [VAR=VALUE...] -- ARGS...: run the binary, keep its output.
frozen() {
    local name=$1 allowed=$2 extra=()
    shift 2
    while [ "$1" != -- ]; do extra+=("$1"); shift; done
    shift
    local cmd=("${clean_env[@]}" "${extra[@]}" "${wrap[@]}" "$binary" "$@") code=0
    if [ "$isolate" = 1 ]; then
        run_hidden "${cmd[@]}" <"${frozen_stdin:-/dev/null}" >"$scratch/out" 2>&1 || code=$?
    else
        "${cmd[@]}" <"${frozen_stdin:-/dev/null}" >"$scratch/out" 2>&1 || code=$?
    fi
    local problem=
    if ! [[ " $allowed " == *" $code "* ]]; then
        problem="exit code $code (expected one of: $allowed)"
    elif grep -E -q 'Traceback|ImportError|ModuleNotFoundError|No module named' "$scratch/out"; then
        problem="a traceback or a missing module in the output"
    fi
    if [ -n "$problem" ]; then
        echo "FAIL $name: $problem"
        sed 's/^/     | /' "$scratch/out"
        failed=1
        return 1
    fi
    echo "ok   $name"
    sed 's/^/     | /' "$scratch/out"
}

frozen "--version" "0" -- --version || true
if [ "$(head -n1 "$scratch/out")" != "presence-agent $version" ]; then
    echo "FAIL --version: expected 'presence-agent $version'"
    failed=1
fi
# doctor reports missing config, keyring or server with exit 1; that is fine here.
frozen "doctor (no display)" "0 1" -- doctor || true

entry=$scratch/home/.config/autostart/presence-agent.desktop
frozen "autostart enable" "0" -- autostart enable || true
if [ -f "$entry" ]; then
    if ! grep -q -x "Exec=$binary run --start-delay [0-9]*" "$entry"; then
        echo "FAIL autostart entry does not run $binary:"
        cat "$entry"
        failed=1
    fi
    if command -v desktop-file-validate >/dev/null && ! desktop-file-validate "$entry"; then
        echo "FAIL desktop-file-validate $entry"
        failed=1
    fi
else
    echo "FAIL autostart enable wrote no $entry"
    failed=1
fi
frozen "autostart status" "0" -- autostart status || true
grep -q "^enabled: $entry" "$scratch/out" || { echo "FAIL status is not enabled"; failed=1; }
frozen "autostart disable" "0" -- autostart disable || true
[ ! -e "$entry" ] || { echo "FAIL autostart disable left $entry"; failed=1; }

if command -v Xvfb >/dev/null; then
    Xvfb -displayfd 3 -nolisten tcp -screen 0 1024x768x24 3>"$scratch/display" \
        >"$scratch/xvfb.log" 2>&1 &
    xvfb_pid=$!
    for _ in $(seq 100); do [ -s "$scratch/display" ] && break; sleep 0.1; done
    if [ -s "$scratch/display" ]; then
        frozen "doctor (on Xvfb :$(cat "$scratch/display"))" "0 1" \
            "DISPLAY=:$(cat "$scratch/display")" -- doctor || true
    else
        echo "!! Xvfb did not start; skipped the doctor run with a display"
    fi
else
    echo "!! no Xvfb; skipped the doctor run with a display"
fi

# The Secret Service keyring needs secretstorage, jeepney and cryptography in
# the bundle, which only a real keyring exercises.
if command -v dbus-run-session >/dev/null && command -v gnome-keyring-daemon >/dev/null \
    && command -v dbus-send >/dev/null; then
    # Absolute paths: the binary's environment has nothing on PATH.
    cat >"$scratch/with-keyring" <<EOF
#!/bin/sh
printf pw | $(command -v gnome-keyring-daemon) --foreground --unlock --components=secrets \
    >/dev/null 2>&1 &
keyring=\$!
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    $(command -v dbus-send) --session --print-reply --dest=org.freedesktop.DBus \
        /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets \
        2>/dev/null | $(command -v grep) -q "boolean true" && break
    $(command -v sleep) 0.25
done
"\$@"
code=\$?
kill \$keyring 2>/dev/null
exit \$code
EOF
    chmod +x "$scratch/with-keyring"
    wrap=("$(command -v dbus-run-session)" "--dbus-daemon=$(command -v dbus-daemon)" --
        "$scratch/with-keyring")
    if frozen "doctor (with a Secret Service)" "0 1" -- doctor \
        && ! grep -q "keyring: Secret Service" "$scratch/out"; then
        echo "FAIL the frozen app did not use the Secret Service keyring"
        failed=1
    fi
    # The running agent reaches the keyring through this hidden command
    # (presence_agent.credentials.KeyringHelper); nothing is stored, so: no secret.
    frozen_stdin=$scratch/helper-request
    echo '{"op": "get", "server": "https://desk.example.com", "api_key": "k"}' >"$frozen_stdin"
    if frozen "keyring helper (with a Secret Service)" "0" -- _keyring-helper \
        && ! grep -q -x '{"ok": true, "value": null}' "$scratch/out"; then
        echo "FAIL the frozen keyring helper did not answer as expected"
        failed=1
    fi
    frozen_stdin=
    wrap=()
else
    echo "!! no dbus-run-session, gnome-keyring-daemon or dbus-send; skipped the keyring run"
fi

if [ "$failed" != 0 ]; then
    echo "== smoke test FAILED for $binary"
    exit 1
fi
echo "== smoke test passed for $binary"
