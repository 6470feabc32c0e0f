package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// The parked set. Every goroutine runs in its own named function of package
// main and calls ready.Done() immediately before it blocks; startParked waits
// for all of them and then sleeps a little so they are really parked. The
// CPU-bound spinForever is started separately, by startSpinner.
//
// Nothing here is ever released: the channels are never sent to or closed,
// the locks are never unlocked.

var ready sync.WaitGroup

// never is received from (and sent to) by goroutines that must block forever.
var never = make(chan int)

// keep holds references (listeners, conns, pipe fds) that must stay alive.
var keep []interface{}

// sink defeats dead-code elimination.
var sink uint64

// extraParkers are started after the built-in ones; cgo.go registers itself
// here when the binary is built with cgo.
var extraParkers []func()

func startParked() {
	// Channels.
	ready.Add(1)
	go parkChanRecv()
	ready.Add(1)
	go parkChanSend()
	ready.Add(1)
	go parkNilChanRecv()
	ready.Add(1)
	go parkNilChanSend()
	ready.Add(1)
	go parkSelect()
	ready.Add(1)
	go parkSelectNoCases()

	// sync. Each holder must own its lock before the waiter starts.
	holderReady := make(chan struct{})
	ready.Add(1)
	go parkMutexHolder(holderReady)
	<-holderReady
	ready.Add(1)
	go parkMutexLock()

	ready.Add(1)
	go parkRWMutexWriteHolder(holderReady)
	<-holderReady
	ready.Add(1)
	go parkRWMutexRLock()

	ready.Add(1)
	go parkRWMutexReadHolder(holderReady)
	<-holderReady
	ready.Add(1)
	go parkRWMutexLock()

	ready.Add(1)
	go parkWaitGroupWait()
	ready.Add(1)
	go parkCondWait()

	// Timers, network, syscalls, threads.
	ready.Add(1)
	go parkSleep()
	startNet()
	startRawSyscall()
	ready.Add(1)
	go parkLockedThread()

	// Methods, generics, deep and inlined stacks.
	startMethods()
	ready.Add(2)
	go genericWait(make(chan int))
	go genericWait(make(chan string))
	ready.Add(1)
	go parkRecursive(150)
	ready.Add(1)
	go parkInlineOuter()

	// Goroutines created by goroutines.
	ready.Add(2) // parent + child
	go parkParent()
	ready.Add(1) // child only; the parent returns
	go orphanParent()

	// pprof labels.
	startLabelled()

	for _, f := range extraParkers {
		f()
	}

	ready.Wait()
	time.Sleep(100 * time.Millisecond)
}

// --- channels ---

func parkChanRecv() {
	ch := make(chan int)
	ready.Done()
	<-ch
}

func parkChanSend() {
	ch := make(chan int) // unbuffered, nobody reads
	ready.Done()
	ch <- 42
}

func parkNilChanRecv() {
	var ch chan int
	ready.Done()
	<-ch
}

func parkNilChanSend() {
	var ch chan int
	ready.Done()
	ch <- 1
}

func parkSelect() {
	a := make(chan int)
	b := make(chan string)
	ready.Done()
	select {
	case v := <-a:
		sink += uint64(v)
	case b <- "never":
	}
}

func parkSelectNoCases() {
	ready.Done()
	select {}
}

// --- sync ---

var (
	heldMutex    sync.Mutex
	heldRWWrite  sync.RWMutex // write-locked by parkRWMutexWriteHolder
	heldRWRead   sync.RWMutex // read-locked by parkRWMutexReadHolder
	neverDone    sync.WaitGroup
	condMu       sync.Mutex
	neverSignals = sync.NewCond(&condMu)
)

func parkMutexHolder(locked chan<- struct{}) {
	heldMutex.Lock()
	locked <- struct{}{}
	ready.Done()
	<-never
}

func parkMutexLock() {
	ready.Done()
	heldMutex.Lock()
}

func parkRWMutexWriteHolder(locked chan<- struct{}) {
	heldRWWrite.Lock()
	locked <- struct{}{}
	ready.Done()
	<-never
}

func parkRWMutexRLock() {
	ready.Done()
	heldRWWrite.RLock()
}

func parkRWMutexReadHolder(locked chan<- struct{}) {
	heldRWRead.RLock()
	locked <- struct{}{}
	ready.Done()
	<-never
}

func parkRWMutexLock() {
	ready.Done()
	heldRWRead.Lock()
}

func parkWaitGroupWait() {
	neverDone.Add(1)
	ready.Done()
	neverDone.Wait()
}

func parkCondWait() {
	condMu.Lock()
	ready.Done()
	for {
		neverSignals.Wait()
	}
}

// --- timers, network, syscalls, threads ---

func parkSleep() {
	ready.Done()
	time.Sleep(time.Hour)
}

func startNet() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	keep = append(keep, ln)
	ready.Add(1)
	go parkNetAccept(ln)

	// A connected pair: the server side blocks in Read, the client never writes.
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	client, err := net.Dial("tcp", ln2.Addr().String())
	must(err)
	server, err := ln2.Accept()
	must(err)
	ln2.Close()
	keep = append(keep, client, server)
	ready.Add(1)
	go parkNetRead(server)
}

func parkNetAccept(ln net.Listener) {
	ready.Done()
	c, err := ln.Accept() // nobody ever connects
	if err == nil {
		defer c.Close()
	}
	<-never
}

func parkNetRead(c net.Conn) {
	buf := make([]byte, 16)
	ready.Done()
	n, _ := c.Read(buf)
	sink += uint64(n)
	<-never
}

func startRawSyscall() {
	var p [2]int
	must(syscall.Pipe(p[:])) // blocking fds, never written
	keep = append(keep, p)
	ready.Add(1)
	go parkRawSyscall(p[0])
}

func parkRawSyscall(fd int) {
	var b [1]byte
	ready.Done()
	n, _, _ := syscall.Syscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), 1)
	sink += uint64(n)
	<-never
}

func parkLockedThread() {
	runtime.LockOSThread()
	ready.Done()
	<-never
}

// --- methods ---

type parkedService struct {
	name string
	ch   chan int
}

func startMethods() {
	s := &parkedService{name: "svc", ch: make(chan int)}
	// Method value on a value receiver: the frame is the -fm wrapper's target.
	f := s.wait
	ready.Add(1)
	go f()
	// Pointer receiver, started directly.
	ready.Add(1)
	go s.waitPtr()
	// Method expression.
	ready.Add(1)
	go (*parkedService).waitExpr(s)
}

//go:noinline
func (s parkedService) wait() {
	ready.Done()
	<-s.ch
}

//go:noinline
func (s *parkedService) waitPtr() {
	ready.Done()
	<-s.ch
}

//go:noinline
func (s *parkedService) waitExpr() {
	ready.Done()
	<-s.ch
}

// --- generics ---

//go:noinline
func genericWait[T any](ch chan T) {
	ready.Done()
	<-ch
}

// --- deep and inlined stacks ---

//go:noinline
func parkRecursive(depth int) int {
	if depth <= 1 {
		ready.Done()
		return <-never
	}
	return parkRecursive(depth-1) + 1
}

// parkInlineOuter -> inlineMiddle -> inlineLeaf; the last two are small
// enough to be inlined, so the dump prints them with "(...)".
//
//go:noinline
func parkInlineOuter() {
	ready.Done()
	sink += uint64(inlineMiddle(never))
}

func inlineMiddle(ch chan int) int {
	return inlineLeaf(ch) + 1
}

func inlineLeaf(ch chan int) int {
	return <-ch
}

// --- goroutines created by goroutines ---

func parkParent() {
	go parkChild()
	ready.Done()
	<-never
}

func parkChild() {
	ready.Done()
	<-never
}

// orphanParent starts orphanChild and returns, so the child's creator
// goroutine no longer exists.
func orphanParent() {
	go orphanChild()
}

func orphanChild() {
	ready.Done()
	<-never
}

// --- pprof labels ---

func startLabelled() {
	// labelledWorker inherits two labels from the goroutine that starts it.
	ready.Add(1)
	pprof.Do(context.Background(), pprof.Labels("worker", "labelled", "shard", "7"), func(ctx context.Context) {
		go labelledWorker()
	})
	// singleLabelWorker has no labels of its own until it calls pprof.Do,
	// and blocks inside it.
	ready.Add(1)
	go singleLabelWorker()
}

func labelledWorker() {
	ready.Done()
	<-never
}

func singleLabelWorker() {
	pprof.Do(context.Background(), pprof.Labels("role", "single"), func(ctx context.Context) {
		ready.Done()
		<-never
	})
}

// --- CPU-bound ---

// startSpinner starts the one CPU-bound goroutine. main calls it last, after
// the scenario's own goroutines exist, so that creating a million goroutines
// does not have to share the CPU with it.
func startSpinner() {
	ready.Add(1)
	go spinForever(1)
	ready.Wait()
	time.Sleep(10 * time.Millisecond)
}

// spinLaps counts how often spinForever's loop has gone round 2^16 times.
// spinStop is never set; the loop tests it so that the loop has an exit,
// without which the compiler deletes the loop body as dead code.
var spinLaps, spinStop uint64

// spinForever makes no calls inside its loop and never returns, so it is
// always running or runnable (asynchronously preempted).
//
//go:noinline
func spinForever(x uint64) {
	ready.Done()
	for i := uint64(1); spinStop == 0; i++ {
		x = x*6364136223846793005 + 1442695040888963407
		x ^= x >> 29
		if i&0xffff == 0 {
			spinLaps++
		}
	}
	sink = x
}

func must(err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "gospytarget: %v\n", err)
		os.Exit(1)
	}
}
