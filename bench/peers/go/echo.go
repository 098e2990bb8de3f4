// Command echo is an idiomatic Go echo server (RFC 862) for TCP and UDP, written the way Go
// services are usually deployed, so that bench/compare can measure netecho against it.
//
// Usage: go run echo.go PORT [HOST]
//
// It listens on HOST:PORT (HOST 127.0.0.1 unless given; bench/xdp gives an address of a network
// namespace) for TCP and UDP (port 0 picks a free port for each), prints one line per listener
// and then a readiness line on standard output:
//
//	listening proto=tcp host=127.0.0.1 port=41234 mode=echo
//	listening proto=udp host=127.0.0.1 port=41234 mode=echo
//	ready peer=go
//
// Each TCP connection gets its own goroutine that copies the connection onto itself (io.Copy,
// which the runtime may turn into splice); when the client closes its sending side, the
// goroutine finishes the copy and closes. One goroutine answers every datagram with the same
// bytes. The runtime's netpoller (epoll) and GOMAXPROCS, taken from the CPU affinity, do the
// rest: this is the plain net package, with no tuning.
package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) != 2 && len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: echo PORT [HOST]")
		os.Exit(2)
	}
	port, err := strconv.Atoi(os.Args[1])
	if err != nil || port < 0 || port > 65535 {
		fmt.Fprintf(os.Stderr, "echo: invalid port %q\n", os.Args[1])
		os.Exit(2)
	}
	host := "127.0.0.1"
	if len(os.Args) == 3 {
		host = os.Args[2]
	}
	if net.ParseIP(host) == nil {
		fmt.Fprintf(os.Stderr, "echo: invalid host %q (expected an IP address)\n", host)
		os.Exit(2)
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatalf("echo: tcp %s: %v", addr, err)
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		log.Fatalf("echo: udp %s: %v", addr, err)
	}
	fmt.Printf("listening proto=tcp host=%s port=%d mode=echo\n", host,
		ln.Addr().(*net.TCPAddr).Port)
	fmt.Printf("listening proto=udp host=%s port=%d mode=echo\n", host,
		pc.LocalAddr().(*net.UDPAddr).Port)
	fmt.Println("ready peer=go")

	go serveUDP(pc)
	serveTCP(ln)
}

// serveTCP accepts until the listener fails for good. Temporary failures (EMFILE, ECONNABORTED)
// back off the way net/http's Server.Serve does, so that a full descriptor table is not a spin.
func serveTCP(ln net.Listener) {
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else if delay *= 2; delay > time.Second {
				delay = time.Second
			}
			log.Printf("echo: accept: %v; retrying in %v", err, delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		go func() {
			defer conn.Close()
			// A copy error means the peer reset or vanished: nothing is owed to it any more.
			_, _ = io.Copy(conn, conn)
		}()
	}
}

// serveUDP answers each datagram with the same bytes, to the address it came from.
func serveUDP(pc net.PacketConn) {
	buf := make([]byte, 65536)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		// A failed send (the client's socket is gone, ENOBUFS) loses one reply, as UDP may.
		_, _ = pc.WriteTo(buf[:n], from)
	}
}
