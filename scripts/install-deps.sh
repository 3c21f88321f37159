#!/bin/sh
# install-deps.sh — installs, from Debian's archive, everything ferc needs to
# build (C libraries) and to test (the Python oracles: PyTorch, scikit-learn,
# OpenCV; ffmpeg; Chromium). Skips the work when everything is present.
set -e
BUILD_PKGS="gcc make pkg-config zlib1g-dev libpng-dev libjpeg-dev libxml2-dev libcairo2-dev libdnnl-dev libopenblas-dev opencv-data ffmpeg libmicrohttpd-dev libprotobuf-c-dev"
TEST_PKGS="python3 python3-numpy python3-torch python3-sklearn python3-opencv python3-skimage chromium python3-scipy wrk clang-14 libfuzzer-14-dev python3-onnx python3-pytest python3-pip python3-setuptools python3-wheel chromium-driver libopenmpi-dev openmpi-bin"
case "${1:-all}" in
  build) PKGS="$BUILD_PKGS" ;;
  *) PKGS="$BUILD_PKGS $TEST_PKGS" ;;
esac
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
