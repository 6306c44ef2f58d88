package main

import (
	"net"
	"sync"
	"time"
)

// torMaxConns bounds the connections a --tor shop holds open at once: every
// buyer arrives from the local tor daemon, so the per-address limits of a
// public shop mean nothing and the process protects itself as a whole.
const torMaxConns = 512

// limitListener accepts at most n connections at a time; Accept waits for
// one to close (the tor daemon queues, and a slowloris client holds at
// most its share until ReadHeaderTimeout ends it).
type limitListener struct {
	net.Listener
	slots chan struct{}
}

func newLimitListener(l net.Listener, n int) net.Listener {
	return &limitListener{Listener: l, slots: make(chan struct{}, n)}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.slots <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// torTimeouts are the per-connection limits of a --tor shop: headers
// within 5 s, a whole request within 15 s, idle connections dropped after
// 30 s, headers at most 16 KiB.
const (
	torReadTimeout  = 15 * time.Second
	torIdleTimeout  = 30 * time.Second
	torMaxHeaderLen = 16 << 10
)
