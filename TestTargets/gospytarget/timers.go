package main

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// --- -scenario=timers ---

// The parked set plus goroutines blocked on timer channels, each of which reports,
// before it blocks, the channel (fmt's %p of its C) and the deadline as the program
// knows it: runtime.nanotime() read just before and just after the call that set the
// timer, plus its duration (the runtime's own `when` lies between the two). The
// control command `timers` replies with them all:
//
//	TIMERS goid:kind:chan:earliest:latest:period[,...]
//
// kind     what the goroutine does
// after    <-time.After(1h)
// timer    <-time.NewTimer(2h).C
// ticker   select on time.NewTicker(90m).C and a channel nobody sends on (period 90m)
// reset    <-t.C of a timer made for 1h and Reset to 4h (the deadline is the Reset's)
// stopped  <-t.C of a timer stopped before it fired: it never fires (earliest=latest=0)
//
// No timer fires while a test runs: the shortest is an hour away.

var (
	timersMu      sync.Mutex
	timersEntries []string
	// Keeps the ticker's other channel and the timers reachable (the goroutines hold them too).
	timersKeep []interface{}
)

func reportTimer(kind string, ch <-chan time.Time, earliest, latest int64, period time.Duration) {
	entry := fmt.Sprintf("%d:%s:%p:%d:%d:%d", currentGoid(), kind, ch, earliest, latest, int64(period))
	timersMu.Lock()
	timersEntries = append(timersEntries, entry)
	timersMu.Unlock()
}

func timersReply() string {
	timersMu.Lock()
	defer timersMu.Unlock()
	return "TIMERS " + strings.Join(timersEntries, ",")
}

func startTimers() {
	startParkedOne(func(ready chan<- uint64) {
		d := time.Hour
		before := runtimeNanotime()
		c := time.After(d)
		after := runtimeNanotime()
		reportTimer("after", c, before+int64(d), after+int64(d), 0)
		ready <- currentGoid()
		<-c
	})
	startParkedOne(func(ready chan<- uint64) {
		d := 2 * time.Hour
		before := runtimeNanotime()
		t := time.NewTimer(d)
		after := runtimeNanotime()
		reportTimer("timer", t.C, before+int64(d), after+int64(d), 0)
		ready <- currentGoid()
		<-t.C
	})
	other := make(chan int)
	timersKeep = append(timersKeep, other)
	startParkedOne(func(ready chan<- uint64) {
		d := 90 * time.Minute
		before := runtimeNanotime()
		tk := time.NewTicker(d)
		after := runtimeNanotime()
		reportTimer("ticker", tk.C, before+int64(d), after+int64(d), d)
		ready <- currentGoid()
		select {
		case <-tk.C:
		case <-other:
		}
	})
	startParkedOne(func(ready chan<- uint64) {
		t := time.NewTimer(time.Hour)
		d := 4 * time.Hour
		before := runtimeNanotime()
		t.Reset(d)
		after := runtimeNanotime()
		reportTimer("reset", t.C, before+int64(d), after+int64(d), 0)
		ready <- currentGoid()
		<-t.C
	})
	startParkedOne(func(ready chan<- uint64) {
		t := time.NewTimer(3 * time.Hour)
		t.Stop()
		reportTimer("stopped", t.C, 0, 0, 0)
		ready <- currentGoid()
		<-t.C
	})
}
