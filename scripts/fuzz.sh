#!/bin/sh
# Runs every go fuzz target (func FuzzXxx in a _test.go file) for the given time each:
#   scripts/fuzz.sh 3s     (make test: a short run of each)
#   scripts/fuzz.sh 10m    (make fuzz)
# -fuzzminimizetime 100x: by default the fuzzer spends up to a minute minimizing each new input,
# which leaves a short run almost no time to fuzz.
# New inputs the fuzzer finds stay in the Go build cache; a failing input is written to the
# package's testdata/fuzz/FuzzXxx/ and then runs as an ordinary test: commit it.
set -eu
time=${1:-3s}
go=${GO:-go}
failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for file in $(git ls-files '*_test.go'); do
	dir=./$(dirname "$file")
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
		echo "fuzz $dir $target ($time)"
		if ! $go test -run '^$' -fuzz "^$target\$" -fuzztime "$time" -fuzzminimizetime 100x "$dir" >"$out" 2>&1; then
			# Go's fuzzer ends with "context deadline exceeded" when replaying the inputs it cached
			# in earlier runs takes longer than the time given: no input failed, say so and go on.
			if grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input\|panic\|fuzzmem\|allocated' "$out"; then
				echo "  (the time ran out while replaying cached inputs: nothing failed)"
				continue
			fi
			cat "$out"
			failed=$((failed + 1))
		fi
	done
done
[ "$failed" -eq 0 ] || { echo "$failed fuzz target(s) failed"; exit 1; }
