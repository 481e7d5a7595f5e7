#!/usr/bin/env bash
# Builds SeaweedFS's `weed` (the S3 store the storage tests run against) from the Go module proxy,
# once per machine, into a folder beside the Go build cache, and prints its path.
# About 5 minutes on 2 cores the first time; a second call returns at once.
set -euo pipefail
export PATH="$PATH:/usr/local/go/bin"
GO="${GO:-go}"
version=v0.0.0-20261109003541-7506e5f91cd6
dir="$("$GO" env GOCACHE)/../streamrec-weed/$version"
bin="$dir/weed"
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9 # two builds at once (make test and a manual call) would race on the same module folder
if [ ! -x "$bin" ]; then
	mod="$(mktemp -d)"
	trap 'rm -rf "$mod"' EXIT
	cat >"$mod/go.mod" <<MOD
module weedbuild

go 1.26

require github.com/seaweedfs/seaweedfs $version

replace github.com/tyler-smith/go-bip39 => github.com/cosmos/go-bip39 v1.0.0
MOD
	# The tools-file pattern: tidy then records the sums of everything the weed command needs.
	printf '//go:build tools\n\npackage weedbuild\n\nimport _ "github.com/seaweedfs/seaweedfs/weed"\n' >"$mod/tools.go"
	(cd "$mod" && "$GO" mod tidy >&2 && "$GO" build -o "$bin.tmp" github.com/seaweedfs/seaweedfs/weed >&2)
	mv "$bin.tmp" "$bin"
fi
echo "$bin"
