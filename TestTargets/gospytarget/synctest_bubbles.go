//go:build go1.25 || (go1.24 && goexperiment.synctest)

package main

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing/synctest"
	"time"
)

// The bubbles of -scenario synctest (synctest.go starts them on Go 1.25+,
// synctest_go124.go on Go 1.24 built with GOEXPERIMENT=synctest).

// outsideMutex is locked outside the bubbles, forever.
var outsideMutex sync.Mutex

// synctestHeld: goroutines of the bubbles that must show a stable wait before
// READY (both roots, both mains, A's 11 helpers, B's sleeper).
const synctestHeld = 2 + 2 + 11 + 1

// awaitBubbles returns once every bubbled goroutine is parked where it stays
// (the runtime's own dump says so).
func awaitBubbles() {
	deadline := time.Now().Add(20 * time.Second)
	for held := 0; held < synctestHeld; held = bubbledAndParked() {
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "gospytarget: %d of %d bubbled goroutines parked after 20s\n", held, synctestHeld)
			os.Exit(1)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// bubbledAndParked counts the headers of goroutines in a bubble (1.24 says
// "synctest group") that are neither running nor runnable.
func bubbledAndParked() int {
	n := 0
	for _, line := range strings.Split(string(allStacks()), "\n") {
		if strings.HasPrefix(line, "goroutine ") &&
			(strings.Contains(line, ", synctest bubble ") || strings.Contains(line, ", synctest group ")) &&
			!strings.Contains(line, "[running") && !strings.Contains(line, "[runnable") {
			n++
		}
	}
	return n
}

func bubbleAMain() {
	ch := make(chan int)
	var wg sync.WaitGroup
	wg.Add(1)
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	go bubbleSleeper()
	go bubbleReceiver(ch)
	go bubbleSender(make(chan int))
	go bubbleSelect(ch, make(chan int))
	go bubbleNilReceive()
	go bubbleNilSend()
	go bubbleEmptySelect()
	go bubbleWaitGroup(&wg)
	go bubbleCond(&mu, cond)
	// Returns once all of the above are durably blocked.
	synctest.Wait()
	go bubbleWaiter()
	go bubbleMutex()
	<-never
}

func bubbleBMain() {
	go bubbleSleeper()
	<-never
}

func bubbleSleeper()                          { time.Sleep(time.Hour) }
func bubbleReceiver(ch chan int)              { <-ch }
func bubbleSender(ch chan int)                { ch <- 1 }
func bubbleNilReceive()                       { var ch chan int; <-ch }
func bubbleNilSend()                          { var ch chan int; ch <- 1 }
func bubbleEmptySelect()                      { select {} }
func bubbleWaitGroup(wg *sync.WaitGroup)      { wg.Wait() }
func bubbleWaiter()                           { synctest.Wait() }
func bubbleMutex()                            { outsideMutex.Lock() }
func bubbleCond(mu *sync.Mutex, c *sync.Cond) { mu.Lock(); c.Wait() }

func bubbleSelect(a, b chan int) {
	select {
	case <-a:
	case b <- 1:
	}
}
