//go:build go1.25

package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// --- -scenario=synctest (Go 1.25 and newer) ---
//
// The parked set plus two synctest bubbles, whose goroutines' traceback
// headers say ", synctest bubble N" and, for the waits synctest counts as
// durable, " (durable)". synctest.Test needs a *testing.T: testing.Main (the
// public entry "go test" used before testing.MainStart, kept for programs that
// simulate it) runs two parallel tests, each making a bubble that never ends.
// Its main goroutine waits on a channel from outside the bubble, a wait that is
// not durable, so the bubble never goes idle: its fake clock stands still and
// its sleepers sleep forever.
//
// Bubble A holds one goroutine per durable wait (sleep, channel receive, send
// and select on its own channels, nil channels, an empty select,
// sync.WaitGroup.Wait, sync.Cond.Wait, synctest.Wait) and one more non-durable
// wait (a sync.Mutex held outside). Bubble B: its main goroutine and a sleeper.
//
// synctest refuses to run with asynctimerchan=1, the default for a module whose
// go directive is older than 1.23 (the target's go.mod says 1.19): start the
// target with GODEBUG=asynctimerchan=0 (tests do).

// outsideMutex is locked outside the bubbles, forever.
var outsideMutex sync.Mutex

// synctestHeld: goroutines of the bubbles that must show a stable wait before
// READY (both roots, both mains, A's 11 helpers, B's sleeper).
const synctestHeld = 2 + 2 + 11 + 1

func init() {
	// Registers the test flags before main's flag.Parse, so that the parallel
	// tests can run side by side whatever GOMAXPROCS is.
	testing.Init()
	_ = flag.Set("test.parallel", "4")
}

func startSynctest() {
	outsideMutex.Lock()
	tests := []testing.InternalTest{
		{Name: "TestBubbleA", F: func(t *testing.T) { t.Parallel(); synctest.Test(t, bubbleAMain) }},
		{Name: "TestBubbleB", F: func(t *testing.T) { t.Parallel(); synctest.Test(t, bubbleBMain) }},
	}
	go testing.Main(func(pattern, name string) (bool, error) { return true, nil }, tests, nil, nil)
	// Until every bubbled goroutine is parked where it stays (the runtime's
	// own dump says so).
	deadline := time.Now().Add(20 * time.Second)
	for held := 0; held < synctestHeld; held = bubbledAndParked() {
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "gospytarget: %d of %d bubbled goroutines parked after 20s\n", held, synctestHeld)
			os.Exit(1)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// bubbledAndParked counts the headers of goroutines in a bubble that are
// neither running nor runnable.
func bubbledAndParked() int {
	n := 0
	for _, line := range strings.Split(string(allStacks()), "\n") {
		if strings.HasPrefix(line, "goroutine ") && strings.Contains(line, ", synctest bubble ") &&
			!strings.Contains(line, "[running") && !strings.Contains(line, "[runnable") {
			n++
		}
	}
	return n
}

func bubbleAMain(t *testing.T) {
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

func bubbleBMain(t *testing.T) {
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
