package main

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"
)

// --- control command `stalechan` ---

// The first `stalechan` starts a goroutine blocked receiving on a channel that nothing else
// refers to, from a creator that then sleeps for an hour with the channel's address still in
// a slot of its frame that the slot's stack map says is dead (the channel's last use is behind
// it). Every `stalechan` replies:
//
//	STALECHAN waiter=<goid> creator=<goid> chan=<fmt's %p of the channel>

var (
	staleOnce  sync.Once
	staleReply string
)

func staleChanReply() string {
	staleOnce.Do(func() {
		ready := make(chan string)
		go staleCreator(ready)
		staleReply = <-ready
	})
	return staleReply
}

// staleJob's size gives the channel's allocation a size class of its own.
type staleJob struct{ id [7]int64 }

//go:noinline
func staleCreator(ready chan<- string) {
	ch := make(chan staleJob)
	started := make(chan uint64)
	go staleWaiter(ch, started)
	waiter := <-started // ch is live across the calls above: it sits in a stack slot
	address := staleName(ch)
	// ch is dead from here on; its slot keeps the address.
	staleAwaitParked(waiter)
	ready <- fmt.Sprintf("STALECHAN waiter=%d creator=%d chan=%s", waiter, currentGoid(), address)
	time.Sleep(time.Hour)
}

//go:noinline
func staleName(ch chan staleJob) string { return fmt.Sprintf("%p", ch) }

//go:noinline
func staleWaiter(ch chan staleJob, started chan<- uint64) {
	started <- currentGoid()
	<-ch
}

// staleAwaitParked returns once goroutine goid's traceback header shows it waiting.
func staleAwaitParked(goid uint64) {
	header := fmt.Sprintf("goroutine %d [chan receive", goid)
	for !strings.Contains(string(allStacks()), header) {
		time.Sleep(time.Millisecond)
	}
	runtime.Gosched()
}
