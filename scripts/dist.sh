#!/usr/bin/env bash
# make dist: static Linux binaries of strata (amd64 and arm64) in dist/.
# cgo is needed (the PostgreSQL parser, pg_query, is C); it is linked
# statically with the netgo/osusergo tags, so the binaries need no C library
# or toolchain on the machine that runs them. The version is stamped from
# `git describe` (or $STRATA_VERSION).
#
# arm64 needs a cross C compiler (Debian: gcc-aarch64-linux-gnu); without it
# the arm64 build is skipped with a message, unless DIST_REQUIRE_ALL=1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

GO="${GO:-go}"
version="${STRATA_VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev)}"
pkg="$("$GO" list -m)/engine"
mkdir -p dist
status=0
for arch in amd64 arm64; do
	cc=gcc
	if [[ "$arch" != "$("$GO" env GOHOSTARCH)" ]]; then
		cc="$([[ $arch == arm64 ]] && echo aarch64-linux-gnu-gcc || echo x86_64-linux-gnu-gcc)"
		if ! command -v "$cc" >/dev/null 2>&1; then
			echo "dist: skipping linux/$arch: no cross C compiler $cc (Debian: apt-get install gcc-aarch64-linux-gnu)" >&2
			[[ "${DIST_REQUIRE_ALL:-0}" == 1 ]] && status=1
			continue
		fi
	fi
	out="dist/strata-linux-$arch"
	echo "dist: compiling $out (version $version; the C parser takes 1-3 minutes the first time)..."
	CGO_ENABLED=1 GOOS=linux GOARCH="$arch" CC="$cc" "$GO" build -trimpath -tags netgo,osusergo \
		-ldflags "-s -w -X '$pkg.Version=$version' -linkmode external -extldflags '-static'" \
		-o "$out" ./cmd/strata
	# ldd exits 1 on a static executable: read its output, not its status.
	ldd_out="$(ldd "$out" 2>&1 || true)"
	if grep -Eq 'not a dynamic executable|statically linked' <<<"$ldd_out"; then
		echo "dist: $out is static ($(du -h "$out" | cut -f1))"
	else
		echo "dist: $out is not static:" >&2
		echo "$ldd_out" >&2
		status=1
	fi
	if [[ "$arch" == "$("$GO" env GOHOSTARCH)" ]]; then
		# Run it with an empty environment and no PATH: no C toolchain or
		# library is reachable, so this is what a bare machine sees.
		got="$(env -i "./$out" version)"
		echo "dist: $out version -> $got"
		[[ "$got" == "strata $version "* ]] || { echo "dist: unexpected version output" >&2; status=1; }
	fi
done
(cd dist && sha256sum strata-linux-* > SHA256SUMS)
exit $status
