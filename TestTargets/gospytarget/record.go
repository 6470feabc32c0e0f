package main

// --- -scenario=record ---
//
// Known truth for `gospy record`: recordWorker spends 75% of every 20 ms period
// spinning in recordSpinA and 25% in recordSpinB (by the clock, not by loop
// counts), and -sleepers goroutines (default 50) sit in time.Sleep for hours.
// The control command "work" reports how many loop iterations the worker has
// done, the target's own work rate for overhead measurements:
//
//	work  -> WORK loops=<n> a=<ns in recordSpinA> b=<ns in recordSpinB>

import (
	"flag"
	"sync/atomic"
	"time"
)

var recordSleepers = flag.Int("sleepers", 50, "goroutines in time.Sleep for -scenario=record")

// recordLoops counts loop iterations of both spins; recordNanosA/B the time spent in each.
var recordLoops, recordNanosA, recordNanosB uint64

const recordPeriod = 20 * time.Millisecond

func startRecord() {
	for i := 0; i < *recordSleepers; i++ {
		go recordSleeper()
	}
	go recordWorker()
}

//go:noinline
func recordSleeper() {
	time.Sleep(10000 * time.Hour)
}

//go:noinline
func recordWorker() {
	for {
		recordSpinA(recordPeriod * 3 / 4)
		recordSpinB(recordPeriod / 4)
	}
}

//go:noinline
func recordSpinA(d time.Duration) { atomic.AddUint64(&recordNanosA, uint64(recordSpin(d))) }

//go:noinline
func recordSpinB(d time.Duration) { atomic.AddUint64(&recordNanosB, uint64(recordSpin(d))) }

// recordSpin spins until d has passed, reading the clock every 256 iterations;
// every sample of the worker has recordSpinA or recordSpinB on its stack.
func recordSpin(d time.Duration) time.Duration {
	start := time.Now()
	x := uint64(start.UnixNano())
	for {
		for i := 0; i < 256; i++ {
			x = x*6364136223846793005 + 1442695040888963407
			x ^= x >> 29
		}
		atomic.AddUint64(&recordLoops, 256)
		if elapsed := time.Since(start); elapsed >= d {
			sink = x
			return elapsed
		}
	}
}

func recordWork() string {
	return "WORK loops=" + itoa(atomic.LoadUint64(&recordLoops)) + " a=" + itoa(atomic.LoadUint64(&recordNanosA)) +
		" b=" + itoa(atomic.LoadUint64(&recordNanosB))
}

func itoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}
