#!/usr/bin/env bash
# Build dist/presence-agent_<version>_<arch>.deb from a PyInstaller --onedir build.
#
#   packaging/linux/build-deb.sh
#
# Needs PyInstaller in $PYTHON (default .venv/bin/python, else python3) and
# dpkg-deb; runs on the Debian/Ubuntu release the package is for, or an older
# one (the bundle needs the build host's glibc or newer; see packaging/README.md).
# DEB_MAINTAINER overrides the Maintainer field.
#
# Layout:
#   /usr/lib/presence-agent/               the PyInstaller folder (no /tmp unpacking at start)
#   /usr/bin/presence-agent                -> ../lib/presence-agent/presence-agent
#   /usr/share/applications/presence-agent.desktop
#   /usr/share/icons/hicolor/{256x256,scalable}/apps/presence-agent.{png,svg}
#   /usr/share/presence-agent/autostart/presence-agent.desktop
#       an autostart entry an administrator may copy to /etc/xdg/autostart to
#       start the agent for every user; users can still turn it off for
#       themselves (`presence-agent autostart disable` writes Hidden=true).
# No maintainer scripts: dpkg triggers from hicolor-icon-theme and
# desktop-file-utils refresh the icon cache and the menu.
set -euo pipefail
cd "$(dirname "$0")/../.."

python=${PYTHON:-}
if [ -z "$python" ]; then
    if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python=python3; fi
fi
# The project's identity, from its one place (presence_agent/__init__.py).
identity() { "$python" -c "import presence_agent as p; print(p.$1)"; }
version=$(identity __version__)
homepage=$(identity PROJECT_URL)
arch=$(dpkg --print-architecture)
# The bundled libraries were linked against this glibc; older ones cannot load them.
glibc=$(dpkg-query -W -f='${Version}' libc6 | sed 's/-.*//')
maintainer=${DEB_MAINTAINER:-$(identity MAINTAINER)}

# The folder build: reuse the one packaging/build-linux.sh made (same analysis
# as the one-file binary, so CI builds once), unless it is missing or REBUILD=1.
onedir=dist/onedir/presence-agent
if [ "${REBUILD:-}" = 1 ] || [ ! -x "$onedir/presence-agent" ]; then
    rm -rf "$onedir"
    "$python" -m PyInstaller --noconfirm --clean --log-level ERROR \
        --workpath build/pyinstaller-onedir --distpath dist/onedir \
        packaging/presence-agent.spec -- --onedir
else
    echo "== reusing $onedir (REBUILD=1 builds it again)"
fi

pkg=build/deb/presence-agent_${version}_${arch}
rm -rf "$pkg"
install -d "$pkg/DEBIAN" "$pkg/usr/lib" "$pkg/usr/bin" "$pkg/usr/share/applications" \
    "$pkg/usr/share/icons/hicolor/256x256/apps" "$pkg/usr/share/icons/hicolor/scalable/apps" \
    "$pkg/usr/share/presence-agent/autostart" "$pkg/usr/share/doc/presence-agent"
cp -a "$onedir" "$pkg/usr/lib/presence-agent"
ln -s ../lib/presence-agent/presence-agent "$pkg/usr/bin/presence-agent"
install -m 644 packaging/linux/presence-agent.desktop "$pkg/usr/share/applications/"
install -m 644 assets/presence-agent.png "$pkg/usr/share/icons/hicolor/256x256/apps/"
install -m 644 assets/presence-agent.svg "$pkg/usr/share/icons/hicolor/scalable/apps/"
# The same entry `presence-agent autostart enable` writes, so both behave alike.
"$python" - "$pkg/usr/share/presence-agent/autostart/presence-agent.desktop" <<'EOF'
import sys
from pathlib import Path

from presence_agent.autostart import START_DELAY_SECONDS
from presence_agent.autostart._xdg import render_entry

command = ["/usr/bin/presence-agent", "run", "--start-delay", str(START_DELAY_SECONDS)]
Path(sys.argv[1]).write_text(render_entry(command, "presence-agent"), encoding="utf-8")
EOF
chmod 644 "$pkg/usr/share/presence-agent/autostart/presence-agent.desktop"
cat >"$pkg/usr/share/doc/presence-agent/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: presence-agent
Source: $homepage

Files: *
Copyright: $(identity MAINTAINER_NAME)
License: MIT
 The bundled Python runtime and libraries keep their own licenses; see
 /usr/lib/presence-agent/_internal.
EOF
chmod 644 "$pkg/usr/share/doc/presence-agent/copyright"

cat >"$pkg/DEBIAN/control" <<EOF
Package: presence-agent
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk "$pkg" | cut -f1)
Depends: libc6 (>= $glibc)
Recommends: gnome-keyring
Suggests: gnome-shell-extension-appindicator
Section: net
Priority: optional
Homepage: $homepage
Description: keeps a helpdesk agent's Libredesk availability up to date
 A tray app that sets the agent Away in Libredesk after a while without
 keyboard or mouse input, and Available again on return, with a menu to
 choose a status by hand.
 .
 This package bundles its own Python runtime and libraries.
EOF

mkdir -p dist
deb=dist/presence-agent_${version}_${arch}.deb
# xz at level 2: 56 MB in under a minute; the default level 6 saves 3 MB for twice the time.
dpkg-deb --root-owner-group -Zxz -z2 --build "$pkg" "$deb"
dpkg-deb --info "$deb"
echo "built $deb"
