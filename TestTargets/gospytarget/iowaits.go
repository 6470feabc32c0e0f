package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// --- -scenario=iowaits ---

// Goroutines blocked on file descriptors: in the netpoller (IO wait) on TCP, UDP
// and unix sockets and on pipes, both directions, and in blocking system calls.
// Each reports the truth before it blocks; the control command `iowaits`
// replies with them all, entries separated by ";", fields key=value:
//
//	IOWAITS goid=N kind=K dir=read|write fd=N [pd=P] [local=A] [remote=A] [inode=N] [tid=N] [nr=N] [peerfd=N]; ...
//
// kind: tcp, udp, unix, pipe (IO wait), syscall (a blocking system call: nr is
// its number, tid the thread it blocks, fd its first argument). Addresses are
// Go's own String() of the socket's addresses; inode is the pipe's (fstat); pd is
// the runtime pollDesc of the descriptor (internal/poll.FD.pd.runtimeCtx); peerfd
// is the descriptor, in this process, of a connected unix socket's other end.

var (
	ioWaitsMu      sync.Mutex
	ioWaitsEntries []string
	// The client end of the unix connection whose server end a goroutine reads: its peer.
	ioWaitsUnixPeerFD int
)

func reportIOWait(fields ...string) {
	entry := fmt.Sprintf("goid=%d %s", currentGoid(), strings.Join(fields, " "))
	ioWaitsMu.Lock()
	ioWaitsEntries = append(ioWaitsEntries, entry)
	ioWaitsMu.Unlock()
}

func ioWaitsReply() string {
	ioWaitsMu.Lock()
	defer ioWaitsMu.Unlock()
	return "IOWAITS " + strings.Join(ioWaitsEntries, ";")
}

// rawFD is the descriptor behind a net.Conn, net.Listener or *os.File, read
// without File()/Fd() (which would switch it to blocking mode).
func rawFD(c syscall.Conn) int {
	raw, err := c.SyscallConn()
	if err != nil {
		panic(err)
	}
	fd := -1
	if err := raw.Control(func(f uintptr) { fd = int(f) }); err != nil {
		panic(err)
	}
	return fd
}

// pollDescOf reads internal/poll.FD.pd.runtimeCtx of a net.Conn, net.Listener
// or *os.File through reflect (unexported fields can be read, not written).
func pollDescOf(v interface{}) string {
	value := reflect.ValueOf(v).Elem() // *net.TCPConn, *os.File, ... -> struct
	var netFD reflect.Value
	switch {
	case value.FieldByName("conn").IsValid(): // TCPConn, UDPConn, UnixConn embed conn{fd}
		netFD = value.FieldByName("conn").FieldByName("fd").Elem()
	case value.FieldByName("fd").IsValid(): // TCPListener, UnixListener
		netFD = value.FieldByName("fd").Elem()
	case value.FieldByName("file").IsValid(): // os.File embeds *file
		netFD = value.FieldByName("file").Elem()
	default:
		return "pd=unknown"
	}
	ctx := netFD.FieldByName("pfd").FieldByName("pd").FieldByName("runtimeCtx")
	if !ctx.IsValid() {
		return "pd=unknown"
	}
	return fmt.Sprintf("pd=0x%x", ctx.Uint())
}

func inodeOf(fd int) uint64 {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		panic(err)
	}
	return st.Ino
}

func mustIO(err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "gospytarget: iowaits: %v\n", err)
		os.Exit(1)
	}
}

// ioWaitsKeep holds every socket and pipe end so none is collected and closed.
var ioWaitsKeep []interface{}

func startIOWaits() {
	before := runtime.NumGoroutine()
	started := 0
	goIO := func(f func()) { started++; go f() }

	// TCP: a listener with a goroutine in Accept, two connections whose both ends
	// wait in Read, and a third whose client waits in Write (its peer never reads).
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	mustIO(err)
	tcpLn := ln.(*net.TCPListener)
	accepted := make(chan net.Conn)
	var clients []net.Conn
	go func() {
		for i := 0; i < 3; i++ {
			c, err := ln.Accept()
			mustIO(err)
			accepted <- c
		}
	}()
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp4", ln.Addr().String())
		mustIO(err)
		clients = append(clients, c)
		server := <-accepted
		ioWaitsKeep = append(ioWaitsKeep, c, server)
		if i < 2 {
			goIO(func() { ioWaitRead("tcp", c.(*net.TCPConn)) })
			goIO(func() { ioWaitRead("tcp", server.(*net.TCPConn)) })
		} else {
			goIO(func() { ioWaitWriteTCP(c.(*net.TCPConn)) })
		}
	}
	goIO(func() { ioWaitAccept("tcp", tcpLn, ln.Addr().String()) })

	// UDP: one unconnected socket waiting in ReadFrom.
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	mustIO(err)
	ioWaitsKeep = append(ioWaitsKeep, udp)
	goIO(func() { ioWaitReadUDP(udp) })

	// Unix: a listener in Accept and a connection whose server end waits in Read.
	dir, err := os.MkdirTemp("", "gospytarget-iowaits")
	mustIO(err)
	path := filepath.Join(dir, "sock")
	unixLn, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	mustIO(err)
	unixClient, err := net.Dial("unix", path)
	mustIO(err)
	unixServer, err := unixLn.AcceptUnix()
	mustIO(err)
	ioWaitsKeep = append(ioWaitsKeep, unixLn, unixClient, unixServer)
	os.RemoveAll(dir) // the bound sockets keep their name
	ioWaitsUnixPeerFD = rawFD(unixClient.(*net.UnixConn))
	goIO(func() { ioWaitRead("unix", unixServer) })
	goIO(func() { ioWaitAccept("unix", unixLn, path) })

	// Pipes: one read end waiting for data, one write end waiting for room.
	r1, w1, err := os.Pipe()
	mustIO(err)
	r2, w2, err := os.Pipe()
	mustIO(err)
	ioWaitsKeep = append(ioWaitsKeep, r1, w1, r2, w2)
	goIO(func() { ioWaitPipeRead(r1) })
	goIO(func() { ioWaitPipeWrite(w2) })

	// A blocking system call: read(2) on a pipe made without the netpoller.
	goIO(ioWaitSyscallRead)

	for runtime.NumGoroutine() < before+started {
		time.Sleep(time.Millisecond)
	}
	// Each has reported; give the last ones time to park.
	for {
		ioWaitsMu.Lock()
		n := len(ioWaitsEntries)
		ioWaitsMu.Unlock()
		if n >= started {
			break
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
}

func addrFields(local, remote net.Addr) []string {
	var fields []string
	if local != nil && local.String() != "" && local.String() != "<nil>" {
		fields = append(fields, "local="+local.String())
	}
	if remote != nil && remote.String() != "" && remote.String() != "<nil>" {
		fields = append(fields, "remote="+remote.String())
	}
	return fields
}

//go:noinline
func ioWaitRead(kind string, c interface {
	net.Conn
	syscall.Conn
}) {
	remote := c.RemoteAddr()
	fields := []string{"kind=" + kind, "dir=read", fmt.Sprintf("fd=%d", rawFD(c)), pollDescOf(c)}
	if kind == "unix" {
		remote = nil // /proc/net/unix names no peer
		fields = append(fields, fmt.Sprintf("peerfd=%d", ioWaitsUnixPeerFD)) // the client end, in this process
	}
	fields = append(fields, addrFields(c.LocalAddr(), remote)...)
	reportIOWait(fields...)
	buf := make([]byte, 1)
	c.Read(buf)
	select {}
}

//go:noinline
func ioWaitWriteTCP(c *net.TCPConn) {
	c.SetWriteBuffer(4096)
	fields := append([]string{"kind=tcp", "dir=write", fmt.Sprintf("fd=%d", rawFD(c)), pollDescOf(c)}, addrFields(c.LocalAddr(), c.RemoteAddr())...)
	reportIOWait(fields...)
	buf := make([]byte, 1<<20)
	for {
		if _, err := c.Write(buf); err != nil {
			select {}
		}
	}
}

//go:noinline
func ioWaitAccept(kind string, ln interface {
	net.Listener
	syscall.Conn
}, local string) {
	reportIOWait("kind="+kind, "dir=read", fmt.Sprintf("fd=%d", rawFD(ln)), pollDescOf(ln), "local="+local)
	ln.Accept()
	select {}
}

//go:noinline
func ioWaitReadUDP(c *net.UDPConn) {
	reportIOWait("kind=udp", "dir=read", fmt.Sprintf("fd=%d", rawFD(c)), pollDescOf(c), "local="+c.LocalAddr().String())
	buf := make([]byte, 1)
	c.ReadFrom(buf)
	select {}
}

//go:noinline
func ioWaitPipeRead(r *os.File) {
	fd := rawFD(r)
	reportIOWait("kind=pipe", "dir=read", fmt.Sprintf("fd=%d", fd), pollDescOf(r), fmt.Sprintf("inode=%d", inodeOf(fd)))
	buf := make([]byte, 1)
	r.Read(buf)
	select {}
}

//go:noinline
func ioWaitPipeWrite(w *os.File) {
	fd := rawFD(w)
	reportIOWait("kind=pipe", "dir=write", fmt.Sprintf("fd=%d", fd), pollDescOf(w), fmt.Sprintf("inode=%d", inodeOf(fd)))
	buf := make([]byte, 1<<20)
	for {
		if _, err := w.Write(buf); err != nil {
			select {}
		}
	}
}

//go:noinline
func ioWaitSyscallRead() {
	runtime.LockOSThread()
	var fds [2]int
	mustIO(syscall.Pipe(fds[:]))
	reportIOWait("kind=syscall", "dir=read", fmt.Sprintf("fd=%d", fds[0]), fmt.Sprintf("tid=%d", syscall.Gettid()),
		fmt.Sprintf("nr=%d", syscall.SYS_READ), fmt.Sprintf("inode=%d", inodeOf(fds[0])))
	buf := make([]byte, 1)
	for {
		syscall.Read(fds[0], buf)
	}
}
