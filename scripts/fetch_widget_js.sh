#!/usr/bin/env bash
# Fetch the JavaScript the built book needs, from the npm registry, so that the
# HTML works offline (also from file://) and never loads code from a CDN:
#   - requirejs                      (AMD loader that embed-amd.js needs)
#   - @jupyter-widgets/html-manager  (renders the static ipywidgets; its bundle
#                                     contains @jupyter-widgets/base 6 and controls 5,
#                                     the protocol of ipywidgets 8.1.x, plus fonts)
#   - mathjax 3                      (renders the equations; Sphinx would load it from jsDelivr)
# into book/_widget_assets/ (git-ignored), which _config.yml adds to html_static_path,
# so the files end up under _build/html/_static/{requirejs,widgets,mathjax}/.
#
# Usage: scripts/fetch_widget_js.sh [DEST]     (idempotent: does nothing when DEST is up to date)
set -euo pipefail

REQUIREJS_VERSION=2.3.7
HTML_MANAGER_VERSION=1.0.15   # matches ipywidgets 8.1.9 (controls ^5.0.13, base ^6.0.12)
MATHJAX_VERSION=3.2.2

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-$ROOT/book/_widget_assets}"
STAMP_TEXT="requirejs@$REQUIREJS_VERSION html-manager@$HTML_MANAGER_VERSION mathjax@$MATHJAX_VERSION"

if [ -f "$DEST/.versions" ] && [ "$(cat "$DEST/.versions")" = "$STAMP_TEXT" ] \
   && [ -f "$DEST/requirejs/require.js" ] && [ -f "$DEST/widgets/embed-amd.js" ] \
   && [ -f "$DEST/mathjax/tex-mml-chtml.js" ]; then
    echo "widget JS up to date in $DEST ($STAMP_TEXT)"
    exit 0
fi

command -v npm >/dev/null || { echo "error: npm is needed to fetch the widget JavaScript (apt-get install -y npm)" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
npm pack --silent "requirejs@$REQUIREJS_VERSION" "@jupyter-widgets/html-manager@$HTML_MANAGER_VERSION" \
    "mathjax@$MATHJAX_VERSION" >/dev/null
for name in requirejs html-manager mathjax; do mkdir -p "$name"; done
tar xzf "requirejs-$REQUIREJS_VERSION.tgz" -C requirejs
tar xzf "jupyter-widgets-html-manager-$HTML_MANAGER_VERSION.tgz" -C html-manager
tar xzf "mathjax-$MATHJAX_VERSION.tgz" -C mathjax

rm -rf "$DEST.tmp"
mkdir -p "$DEST.tmp/requirejs" "$DEST.tmp/widgets" "$DEST.tmp/mathjax"

cp requirejs/package/require.js "$DEST.tmp/requirejs/require.js"
cp requirejs/package/LICENSE "$DEST.tmp/requirejs/" 2>/dev/null || true
# embed-amd.js finds its fonts next to itself (webpack public path = its own URL)
find html-manager/package/dist -maxdepth 1 -type f \
    \( -name 'embed-amd.js' -o -name '*.LICENSE.txt' -o -name '*.woff' -o -name '*.woff2' \
       -o -name '*.ttf' -o -name '*.eot' -o -name '*.svg' \) -exec cp {} "$DEST.tmp/widgets/" \;
# MathJax: the combined TeX+MathML/CHTML component, the extensions it may autoload,
# its CHTML fonts, the menu/accessibility components it loads on demand
MJ=mathjax/package/es5
cp "$MJ/tex-mml-chtml.js" "$MJ/latest.js" "$DEST.tmp/mathjax/"
mkdir -p "$DEST.tmp/mathjax/output"
cp -r "$MJ/input" "$MJ/ui" "$MJ/a11y" "$MJ/sre" "$DEST.tmp/mathjax/"
cp -r "$MJ/output/chtml" "$MJ/output/chtml.js" "$DEST.tmp/mathjax/output/"
cp mathjax/package/LICENSE "$DEST.tmp/mathjax/" 2>/dev/null || true
echo "$STAMP_TEXT" > "$DEST.tmp/.versions"
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
echo "fetched $STAMP_TEXT into $DEST"
