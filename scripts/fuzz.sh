#!/bin/sh
# Runs every go fuzz target (func FuzzXxx in a _test.go file) for the given time each:
#   scripts/fuzz.sh 3s     (make test: a short run of each)
#   scripts/fuzz.sh 10m    (make fuzz)
# New inputs the fuzzer finds stay in the Go build cache; a failing input is written to the
# package's testdata/fuzz/FuzzXxx/ and then runs as an ordinary test: commit it.
set -eu
time=${1:-3s}
go=${GO:-go}
failed=0
for file in $(git ls-files '*_test.go'); do
	dir=./$(dirname "$file")
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
		echo "fuzz $dir $target ($time)"
		if ! $go test -run '^$' -fuzz "^$target\$" -fuzztime "$time" "$dir" >/tmp/fuzz.$$ 2>&1; then
			cat /tmp/fuzz.$$
			failed=$((failed + 1))
		fi
	done
done
rm -f /tmp/fuzz.$$
[ "$failed" -eq 0 ] || { echo "$failed fuzz target(s) failed"; exit 1; }
