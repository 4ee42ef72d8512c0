#!/bin/sh
# Re-render the app icon's bitmaps from assets/presence-agent.svg.
# The bitmaps are committed, so only run this after changing the SVG.
# Needs rsvg-convert (librsvg2-bin) and ImageMagick's convert.
# Each size is rendered from the vector rather than scaled down from 256 px,
# so the small ones stay sharp.
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rsvg-convert -w 256 -h 256 assets/presence-agent.svg -o assets/presence-agent.png
for s in 16 24 32 48 64 128 256; do
    rsvg-convert -w "$s" -h "$s" assets/presence-agent.svg -o "$tmp/$s.png"
done
convert "$tmp/16.png" "$tmp/24.png" "$tmp/32.png" "$tmp/48.png" "$tmp/64.png" \
    "$tmp/128.png" "$tmp/256.png" assets/presence-agent.ico
