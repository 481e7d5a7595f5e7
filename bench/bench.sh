#!/bin/sh
# make bench: builds streamrec and the load generator, then runs the load benchmark (bench/benchrun)
# against streamrec and nginx-rtmp, and the Go benchmarks of the hot paths. Flags go to benchrun:
#   bench/bench.sh -t 10s -rtmp 10,50 -webrtc "" -webrtc-vp8 ""    # a quick run
#   BENCH_GO=0 bench/bench.sh ...                                 # skip the Go benchmarks
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}
mkdir -p bin
$GO build -o bin/streamrec ./cmd/streamrec
$GO build -o bin/loadgen ./cmd/loadgen
$GO build -o bin/benchrun ./bench/benchrun
if [ "${BENCH_GO:-1}" != 0 ]; then
	echo "== Go benchmarks of the hot paths"
	$GO test -run '^$' -bench 'RTMPToMP4' -benchtime 3s ./internal/rtmp
	$GO test -run '^$' -bench 'Depacketize' -benchtime 2s ./internal/rtp
	$GO test -run '^$' -bench 'WriteFrame' -benchtime 2s ./internal/mp4 ./internal/webm
	$GO test -run '^$' -bench 'Close' -benchtime 20x ./internal/mp4 ./internal/webm
	$GO test -run '^$' -bench 'Transcode' -benchtime 2s ./internal/audio
fi
echo "== load benchmark"
exec bin/benchrun "$@"
