// Command streamrec is the stream recording server: RTMP, RTSP and WebRTC in, MP4 and WebM out.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/streamrec/streamrec/internal/server"
)

func main() {
	home := flag.String("home", ".", "the server's home: conf/, records/ and bin/ live here")
	version := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *version {
		fmt.Println("streamrec", server.Version)
		return
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	slog.SetDefault(log)
	server.ConfigureRuntime()
	srv, err := server.New(*home, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "streamrec:", err)
		os.Exit(1)
	}
	if err := srv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "streamrec:", err)
		os.Exit(1)
	}
	log.Info("streamrec started", "version", server.Version, "home", srv.Home)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	s := <-sig
	log.Info("stopping: finishing recordings", "signal", s.String())
	srv.Close()
	log.Info("stopped")
}
