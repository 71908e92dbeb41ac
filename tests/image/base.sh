#!/usr/bin/env bash
# Build a stand-in for the Dockerfile's PYTHON_IMAGE (python:3.12.x-slim-bookworm) and import it
# into podman as IMAGE: image registries cannot be reached from the test machines, Debian's
# mirror can. Usage (as root): base.sh IMAGE
#
# Like the official image: Debian bookworm, bash, ca-certificates, `python` and `pip` on PATH
# from /usr/local/bin (here a venv at /usr/local over Debian's python3, so 3.11, not 3.12), and
# no compiled bytecode anywhere (the official image deletes every .pyc; Debian's packages ship
# them compiled, so they are deleted here too). tests/image/podman.py keys IMAGE by this file's
# sha256, so any change here builds a new base.
set -euo pipefail
image=$1
suite=bookworm
mirror=http://deb.debian.org/debian
pip_version=25.1.1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs

debootstrap --variant=minbase --include=python3,python3-venv,passwd,bash,ca-certificates \
  "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; exit 1; }

# pip, from its wheel (downloaded here with this machine's pip configuration: proxy CA, index).
python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$work" "pip==$pip_version"
wheel=$(basename "$work"/pip-*.whl)
cp "$work/$wheel" "$root/tmp/"
chroot "$root" python3 -m venv --without-pip /usr/local
chroot "$root" /usr/local/bin/python "/tmp/$wheel/pip" install --quiet --no-index "/tmp/$wheel"
rm -f "$root/tmp/$wheel" "$root"/usr/local/bin/[Aa]ctivate*

find "$root/usr/lib/python3" "$root"/usr/lib/python3.* "$root/usr/local" \
  -depth -type d -name __pycache__ -exec rm -rf {} +
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/*

tar -C "$root" --numeric-owner -c . \
  | podman --runtime runc --cgroup-manager cgroupfs import \
      --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENV LANG=C.UTF-8' \
      --change 'CMD ["python3"]' \
      - "$image" >/dev/null
