//go:build go1.25

package main

import (
	"flag"
	"testing"
	"testing/synctest"
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

func init() {
	// Registers the test flags before main's flag.Parse, so that the parallel
	// tests can run side by side whatever GOMAXPROCS is.
	testing.Init()
	_ = flag.Set("test.parallel", "4")
}

func startSynctest() {
	outsideMutex.Lock()
	tests := []testing.InternalTest{
		{Name: "TestBubbleA", F: func(t *testing.T) { t.Parallel(); synctest.Test(t, func(*testing.T) { bubbleAMain() }) }},
		{Name: "TestBubbleB", F: func(t *testing.T) { t.Parallel(); synctest.Test(t, func(*testing.T) { bubbleBMain() }) }},
	}
	go testing.Main(func(pattern, name string) (bool, error) { return true, nil }, tests, nil, nil)
	awaitBubbles()
}
