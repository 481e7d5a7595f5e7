// Command profserve is cmd/streamrec with Go's profiler on a loopback HTTP port, for profiling
// the server under cmd/loadgen's load:
//
//	go build -o bin/profserve ./bench/profserve
//	bin/profserve -home HOME -pprof 127.0.0.1:6060 &
//	go tool pprof -seconds 20 http://127.0.0.1:6060/debug/pprof/profile
//
// bench/benchrun takes it as -streamrec bin/profserve (it passes -home only).
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"syscall"

	"github.com/streamrec/streamrec/internal/server"
)

func main() {
	home := flag.String("home", ".", "the server's home")
	addr := flag.String("pprof", "127.0.0.1:6060", "loopback address of the profiler's HTTP endpoint")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintln(os.Stderr, "profserve: -pprof must be a loopback address")
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	server.ConfigureRuntime()
	srv, err := server.New(*home, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "profserve:", err)
		os.Exit(1)
	}
	if err := srv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "profserve:", err)
		os.Exit(1)
	}
	go func() {
		if err := http.ListenAndServe(*addr, nil); err != nil {
			log.Error("pprof endpoint", "err", err)
		}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	srv.Close()
}
