#!/usr/bin/env bash
# build.sh - install what Warden needs from Debian, then build.
#   ./build.sh          build ./warden
#   ./build.sh run ...  build, then run the broker (extra arguments go to warden)
#   ./build.sh test     build, then run every test suite (ends with "N passed, N failed")
set -euo pipefail
cd "$(dirname "$0")"

# Build, test and runtime packages (Debian 12 names).
PKGS=(gcc clang make pkg-config libc6-dev
      libwolfssl-dev liblmdb-dev lmdb-utils libsodium-dev libncurses-dev libjansson-dev
      libcmocka-dev libclang-rt-14-dev valgrind
      mosquitto mosquitto-clients libmosquitto-dev python3 python3-paho-mqtt
      tmux openssl procps curl libhttp-parser-dev)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    if [ "$(id -u)" = 0 ]; then
        echo "build.sh: installing ${missing[*]}" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "build.sh: missing packages; run as root:" >&2
        echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi

jobs=$(nproc 2>/dev/null || echo 2)
case "${1:-build}" in
build)
    make -j"$jobs" warden
    ;;
run)
    shift
    make -j"$jobs" warden
    exec ./warden "$@"
    ;;
test)
    make -j"$jobs" warden build/asan/warden unit vg fuzz build/tests/tls_client
    exec tests/run.sh
    ;;
*)
    echo "usage: ./build.sh [build | run [warden args] | test]" >&2
    exit 2
    ;;
esac
