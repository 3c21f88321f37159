#!/bin/sh
# browser_check.sh — opens a report's DIR/index.html in headless Chromium and
# checks that the page loads, that every <img> loaded (complete, naturalWidth
# > 0) and that a screenshot (1280x2000) is a valid, non-empty PNG.
#
# usage: tests/browser_check.sh DIR [SCREENSHOT.png] [MIN_IMAGES]
# exit:  0 ok, 1 a check failed, 2 usage, 77 Chromium is not installed (skip).
# env:   CHROMIUM=path of the browser (default: chromium, chromium-browser,
#        google-chrome, whichever is found first).
set -u

DIR=${1:-}
SHOT=${2:-}
MIN_IMAGES=${3:-1}
if [ -z "$DIR" ] || [ "$DIR" = "--help" ]; then
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
if [ ! -f "$DIR/index.html" ]; then
    echo "browser_check: $DIR/index.html does not exist" >&2
    exit 1
fi

BROWSER=${CHROMIUM:-}
if [ -z "$BROWSER" ]; then
    for b in chromium chromium-browser google-chrome; do
        if command -v "$b" >/dev/null 2>&1; then BROWSER=$b; break; fi
    done
fi
if [ -z "$BROWSER" ] || ! command -v "$BROWSER" >/dev/null 2>&1; then
    echo "browser_check: skipped: Chromium is not installed (Debian: apt-get install -y chromium)" >&2
    exit 77
fi

ABS=$(cd "$DIR" && pwd) || exit 1
WORK=$(mktemp -d) || exit 1
[ -n "${FERC_KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT INT TERM

run_browser() {
    # a fresh profile per run; no network, no first-run UI, no sandbox (root in CI)
    prof=$(mktemp -d "$WORK/profile.XXXXXX")
    timeout 120 "$BROWSER" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-extensions --user-data-dir="$prof" "$@"
}

# 1. The page with a <base> pointing at DIR (so that its relative image paths
#    resolve from the work copy) and a script that, once the load event has
#    fired, writes every image's state into the DOM, which --dump-dom prints.
CHECK="$WORK/check.html"
awk -v base="file://$ABS/" '
    BEGIN {
        done_head = 0; done_body = 0
        script = "<script>window.addEventListener(\"load\", function () {" \
            " var out = [];" \
            " for (var i = 0; i < document.images.length; i++) {" \
            "  var im = document.images[i];" \
            "  out.push(im.getAttribute(\"src\") + \"=\" + (im.complete ? im.naturalWidth + \"x\" + im.naturalHeight : \"incomplete\"));" \
            " }" \
            " var p = document.createElement(\"pre\"); p.id = \"ferc-browser-check\";" \
            " p.textContent = \"FERC-\" + \"CHECK title=\" + (document.title ? 1 : 0) + \" images=\" + document.images.length + \" \" + out.join(\" \") + \" END\";" \
            " document.body.appendChild(p);" \
            "});</script>"
    }
    {
        line = $0
        if (!done_head && match(tolower(line), /<head[^>]*>/)) {
            line = substr(line, 1, RSTART + RLENGTH - 1) "<base href=\"" base "\">" substr(line, RSTART + RLENGTH)
            done_head = 1
        }
        if (!done_body && match(tolower(line), /<\/body>/)) {
            line = substr(line, 1, RSTART - 1) script substr(line, RSTART)
            done_body = 1
        }
        print line
    }' "$ABS/index.html" > "$CHECK"
if ! grep -q 'ferc-browser-check' "$CHECK" || ! grep -q '<base href' "$CHECK"; then
    echo "browser_check: $DIR/index.html has no <head> or no </body>" >&2
    exit 1
fi

run_browser --virtual-time-budget=15000 --dump-dom "file://$CHECK" > "$WORK/dom.html" 2> "$WORK/chromium.log"
rc=$?
LINE=$(grep -o 'FERC-CHECK title=[01] [^<]*END' "$WORK/dom.html" | head -n 1)
if [ $rc -ne 0 ] || [ -z "$LINE" ]; then
    echo "browser_check: the page did not load (chromium exit $rc); last browser messages:" >&2
    grep -v -i 'dbus' "$WORK/chromium.log" | tail -n 5 >&2
    exit 1
fi
echo "$LINE" | grep -q 'title=1' || { echo "browser_check: the page has no title" >&2; exit 1; }
NIMG=$(echo "$LINE" | sed -n 's/.* images=\([0-9]*\) .*/\1/p')
BAD=$(echo "$LINE" | tr ' ' '\n' | grep '=' | grep -v -E '^(title|images)=' | grep -v -E '=[1-9][0-9]*x[1-9][0-9]*$')
if [ -n "$BAD" ]; then
    echo "browser_check: images that did not load:" $BAD >&2
    exit 1
fi
if [ "${NIMG:-0}" -lt "$MIN_IMAGES" ]; then
    echo "browser_check: $NIMG images on the page, expected at least $MIN_IMAGES" >&2
    exit 1
fi
echo "browser_check: page loaded, $NIMG images loaded:" $(echo "$LINE" | tr ' ' '\n' | grep '\.png=' | tr '\n' ' ')

# 2. A screenshot of the page itself.
[ -n "$SHOT" ] || SHOT="$WORK/screenshot.png"
rm -f "$SHOT"
run_browser --hide-scrollbars --window-size=1280,2000 --screenshot="$SHOT" "file://$ABS/index.html" \
    > "$WORK/shot.log" 2>&1
if [ ! -s "$SHOT" ]; then
    echo "browser_check: no screenshot was written" >&2
    grep -v -i 'dbus' "$WORK/shot.log" | tail -n 5 >&2
    exit 1
fi
# PNG signature, then the IHDR width and height (big-endian, bytes 16..23)
SIG=$(od -An -tx1 -N8 "$SHOT" | tr -d ' \n')
if [ "$SIG" != "89504e470d0a1a0a" ]; then
    echo "browser_check: the screenshot is not a PNG (signature $SIG)" >&2
    exit 1
fi
W=$(od -An -tu1 -j16 -N4 "$SHOT" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}')
H=$(od -An -tu1 -j20 -N4 "$SHOT" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}')
SIZE=$(wc -c < "$SHOT" | tr -d ' ')
if [ "$W" -lt 1 ] || [ "$H" -lt 1 ]; then
    echo "browser_check: the screenshot is ${W}x${H}" >&2
    exit 1
fi
# a blank 1280x2000 page compresses to a few kB; charts and text take far more
if [ "$SIZE" -lt 20000 ]; then
    echo "browser_check: the screenshot is only $SIZE bytes: a blank page?" >&2
    exit 1
fi
echo "browser_check: screenshot ${W}x${H}, $SIZE bytes: $SHOT"
exit 0
