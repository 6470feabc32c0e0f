package main

import (
	"bytes"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// --- -scenario=waits ---

// Goroutines blocked on channels in every way a channel wait is recorded, each of
// which reports the true object it waits on (fmt's %p of the channel) before it
// blocks; the control command `waits` replies with them all:
//
//	WAITS goid:op:chan:len:cap:type[,...]  op: send, recv, select-send, select-recv,
//	                                     nil-recv, select-none
//
// A goroutine in a select reports one entry per case. Channels are made once and
// never change, so len/cap are the truth for as long as the process runs.

var (
	waitsMu      sync.Mutex
	waitsEntries []string
)

func reportWait(op string, ch interface{}, length, capacity int) {
	addr, typ := "0x0", "nil"
	if ch != nil {
		addr, typ = fmt.Sprintf("%p", ch), fmt.Sprintf("%T", ch)
	}
	waitsMu.Lock()
	waitsEntries = append(waitsEntries, fmt.Sprintf("%d:%s:%s:%d:%d:%s", currentGoid(), op, addr, length, capacity, typ))
	waitsMu.Unlock()
}

// currentGoid parses this goroutine's id from its own traceback header.
func currentGoid() uint64 {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	buf = bytes.TrimPrefix(buf, []byte("goroutine "))
	id, _ := strconv.ParseUint(string(buf[:bytes.IndexByte(buf, ' ')]), 10, 64)
	return id
}

func waitsReply() string {
	waitsMu.Lock()
	defer waitsMu.Unlock()
	return "WAITS " + strings.Join(waitsEntries, ",")
}

type waitJob struct{ id int }

func startWaits() {
	before := runtime.NumGoroutine()
	unbuffered := make(chan *waitJob)
	full := make(chan int, 2)
	full <- 1
	full <- 2
	empty := make(chan string, 3)
	selA := make(chan int)
	selB := make(chan int)
	var nilChan chan int
	started := 0
	for i := 0; i < 3; i++ {
		go waitsSend(unbuffered)
		started++
	}
	go waitsSendFull(full)
	started++
	for i := 0; i < 2; i++ {
		go waitsRecv(empty)
		started++
	}
	go waitsSelect(selA, selB)
	started++
	go waitsNilRecv(nilChan)
	started++
	go waitsSelectNone()
	started++
	for runtime.NumGoroutine() < before+started {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // each has reported and parked
}

//go:noinline
func waitsSend(ch chan *waitJob) {
	reportWait("send", ch, len(ch), cap(ch))
	ch <- &waitJob{1}
}

//go:noinline
func waitsSendFull(ch chan int) {
	reportWait("send", ch, len(ch), cap(ch))
	ch <- 3
}

//go:noinline
func waitsRecv(ch chan string) {
	reportWait("recv", ch, len(ch), cap(ch))
	<-ch
}

//go:noinline
func waitsSelect(a, b chan int) {
	reportWait("select-recv", a, 0, 0)
	reportWait("select-send", b, 0, 0)
	select {
	case <-a:
	case b <- 1:
	}
}

//go:noinline
func waitsNilRecv(ch chan int) {
	reportWait("nil-recv", nil, 0, 0)
	<-ch
}

//go:noinline
func waitsSelectNone() {
	reportWait("select-none", nil, 0, 0)
	select {}
}
