# streamrec: `make run` starts the server in this folder, `make test` runs every test.
# Both install what they need first (Debian packages through apt-get, Go modules through go).

GO        ?= go
BIN       := bin/streamrec
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/streamrec/streamrec/internal/server.Version=$(VERSION)
# Debian packages: FFmpeg's libraries for the audio transcoder (cgo), ffmpeg/ffprobe for the tests,
# Chromium for the real-browser WebRTC tests (driven by playwright-core from npm; no browser download).
DEB_BUILD := gcc pkg-config libavcodec-dev libswresample-dev libavutil-dev
# The RTSP tests' camera is GStreamer's RTSP server, driven from Python; gstreamer1.0-rtsp has the
# rtspclientsink that publishes to streamrec.
DEB_RTSP  := python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-rtsp
# The NAT tests put a publisher in a network namespace behind iptables rules of their own.
DEB_TEST  := ffmpeg chromium $(DEB_RTSP) iproute2 iptables
TEST_TIMEOUT ?= 35m
# End-to-end tests that mostly wait on real time and peers run this many at a time (t.Parallel).
TEST_PARALLEL ?= 3
# Each fuzz target runs this long in make test (briefly) and in make fuzz (longer).
FUZZ_TIME_TEST ?= 3s
FUZZ_TIME ?= 5m

.PHONY: all deps deps-test build run test fuzz vet bench clean ui ui-check

all: build

# deps installs the missing Debian packages (as root, or through sudo).
deps:
	@scripts/apt-install.sh $(DEB_BUILD)

deps-test: deps
	@scripts/apt-install.sh $(DEB_TEST)
	@command -v node >/dev/null || scripts/apt-install.sh nodejs npm
	@{ [ -f node_modules/.package-lock.json ] && [ ! package-lock.json -nt node_modules/.package-lock.json ]; } || \
		PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund

build: deps
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/streamrec

run: build
	./$(BIN) -home .

vet:
	$(GO) vet ./...

# The storage tests run against a real S3 store: SeaweedFS, built from the Go module proxy by
# scripts/seaweedfs.sh once per machine (about 5 minutes the first time).
test: deps-test build vet
	weed="$$(GO=$(GO) scripts/seaweedfs.sh)" && STREAMREC_WEED="$$weed" $(GO) test -count=1 -timeout $(TEST_TIMEOUT) -parallel $(TEST_PARALLEL) ./...
	GO=$(GO) scripts/fuzz.sh $(FUZZ_TIME_TEST)

# fuzz runs every parser's fuzz target for FUZZ_TIME each (make fuzz FUZZ_TIME=1h for a long run).
fuzz: deps
	GO=$(GO) scripts/fuzz.sh $(FUZZ_TIME)

# bench measures recording under load against nginx-rtmp and runs the hot paths' Go benchmarks
# (~15 minutes; figures and how to read them: bench/README.md). BENCH_FLAGS go to bench/benchrun,
# e.g. make bench BENCH_FLAGS="-t 10s -rtmp 10,50 -webrtc '' -webrtc-vp8 ''".
bench: deps
	@scripts/apt-install.sh ffmpeg nginx libnginx-mod-rtmp
	bench/bench.sh $(BENCH_FLAGS)

clean:
	rm -f $(BIN)

# ui rebuilds the web pages in static/ (demo page, dashboard) from ui/ with Vite (Node.js 20.19+).
# The build is committed, so `go build` alone makes the whole product; ui-check fails when the
# committed static/ is not what the sources build.
ui:
	@command -v node >/dev/null || scripts/apt-install.sh nodejs npm
	@{ [ -f node_modules/.package-lock.json ] && [ ! package-lock.json -nt node_modules/.package-lock.json ]; } || \
		PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	npm run build

ui-check: ui
	@git diff --exit-code --stat -- static/ && [ -z "$$(git status --porcelain -- static/)" ] || \
		{ echo "static/ differs from a fresh build of ui/: run make ui and commit static/"; exit 1; }
