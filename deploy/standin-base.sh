#!/usr/bin/env bash
# Builds a stand-in for the official slim Python image where no image registry can be reached:
# a minimal Debian bookworm root filesystem (debootstrap, from Debian's packages) with python3
# and python3-venv, imported as a local image. Usage: deploy/standin-base.sh [TAG]
# Then: docker build --build-arg PYTHON_IMAGE=TAG .   (needs root and debootstrap)
set -euo pipefail
tag="${1:-autoheal-standin-python:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# pip inside the build must trust the same CA bundle as this machine (some networks intercept
# TLS with their own CA): the host's bundle is copied in and PIP_CERT points at it.
bundle="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"

command -v debootstrap >/dev/null || { echo "standin-base: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
rootfs="$(mktemp -d "${TMPDIR:-/tmp}/autoheal-rootfs.XXXXXX")"
trap 'rm -rf "$rootfs"' EXIT

debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || { tail -n 30 "$rootfs.log" >&2; exit 1; }
rm -f "$rootfs.log"
if [ -f "$bundle" ]; then
    cp "$bundle" "$rootfs/etc/ssl/certs/ca-certificates.crt"
fi
# Leave out what a base image does not carry: package lists, caches, docs.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/usr/share/doc/* \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["python3"]' \
    - "$tag" >/dev/null
echo "$tag"
