package main

import (
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// --- -scenario=many ---

// startMany parks n more goroutines in a channel receive: n/2 (rounded up)
// under manyWorkerA -> manyStageA -> manyWaiterA and the rest under
// manyWorkerB -> manyStageB -> manyWaiterB. Several spawners create them in
// parallel; each spawner's goroutines wait on their own channel.
// Memory: about 2.6KB per goroutine (2.6GB RSS at n=1e6).
func startMany(n int) {
	// Every GC cycle has to scan every goroutine stack, which takes seconds
	// at n=1e6 (and the forced GC sysmon starts every 2 minutes would disturb
	// benchmarks). Nothing allocated here becomes garbage, so switch the GC
	// off, and once everything is parked let it run again only when memory
	// use doubles (e.g. after several big dumps).
	debug.SetGCPercent(-1)
	var wg sync.WaitGroup
	wg.Add(n)
	spawners := runtime.GOMAXPROCS(0) * 2
	if spawners > n {
		spawners = n
	}
	var done sync.WaitGroup
	for s := 0; s < spawners; s++ {
		lo, hi := n*s/spawners, n*(s+1)/spawners
		ch := make(chan int)
		done.Add(1)
		go func(lo, hi int) {
			defer done.Done()
			for i := lo; i < hi; i++ {
				if i%2 == 0 {
					go manyWorkerA(ch, &wg)
				} else {
					go manyWorkerB(ch, &wg)
				}
			}
		}(lo, hi)
	}
	done.Wait()
	wg.Wait()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	debug.SetMemoryLimit(int64(ms.Sys)*2 + 256<<20)
	time.Sleep(100 * time.Millisecond)
}

//go:noinline
func manyWorkerA(ch chan int, wg *sync.WaitGroup) { manyStageA(ch, wg) }

//go:noinline
func manyStageA(ch chan int, wg *sync.WaitGroup) { manyWaiterA(ch, wg) }

//go:noinline
func manyWaiterA(ch chan int, wg *sync.WaitGroup) {
	wg.Done()
	<-ch
}

//go:noinline
func manyWorkerB(ch chan int, wg *sync.WaitGroup) { manyStageB(ch, wg) }

//go:noinline
func manyStageB(ch chan int, wg *sync.WaitGroup) { manyWaiterB(ch, wg) }

//go:noinline
func manyWaiterB(ch chan int, wg *sync.WaitGroup) {
	wg.Done()
	<-ch
}

// --- -scenario=churn ---

// churned counts short-lived goroutines that have finished.
var churned atomic.Int64

// startChurn starts churnSpawner, which starts a batch of 50 churnWorker
// goroutines every 2ms (on the order of 10-20k goroutines a second). Every
// fourth worker sleeps ~1ms before finishing, so at any moment some are
// sleeping, some runnable and some exiting.
func startChurn() {
	go churnSpawner()
}

func churnSpawner() {
	for i := 0; ; i++ {
		for j := 0; j < 50; j++ {
			go churnWorker(uint64(i*50 + j))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

//go:noinline
func churnWorker(x uint64) {
	for k := 0; k < 100; k++ {
		x = x*2862933555777941757 + 3037000493
	}
	if x%4 == 0 {
		time.Sleep(time.Millisecond)
	}
	atomic.AddUint64(&churnSink, x)
	churned.Add(1)
}

var churnSink uint64

// --- -scenario=growing ---

// leaked counts leakyWorker goroutines started so far.
var leaked atomic.Int64

// startGrowing starts a fixed pool of 10 steadyWorker goroutines that take
// jobs from a channel fed by steadyProducer, and leakSpawner, which starts 5
// leakyWorker goroutines every 200ms that block forever.
func startGrowing() {
	jobs := make(chan int)
	var wg sync.WaitGroup
	wg.Add(10)
	for i := 0; i < 10; i++ {
		go steadyWorker(jobs, &wg)
	}
	wg.Wait()
	go steadyProducer(jobs)
	go leakSpawner()
}

func steadyWorker(jobs <-chan int, wg *sync.WaitGroup) {
	wg.Done()
	for j := range jobs {
		atomic.AddUint64(&churnSink, uint64(j))
	}
}

func steadyProducer(jobs chan<- int) {
	for i := 0; ; i++ {
		time.Sleep(50 * time.Millisecond)
		jobs <- i
	}
}

func leakSpawner() {
	for {
		for i := 0; i < 5; i++ {
			go leakyWorker(make(chan int))
			leaked.Add(1)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

//go:noinline
func leakyWorker(ch chan int) {
	<-ch
}

// --- -scenario=clock ---

// clockReads counts clockReader's loops, in steps of 1024, so the loop has an
// effect the compiler must keep.
var clockReads uint64

// startClock starts two goroutines that read the clock in a loop. Stopped at
// any moment, their threads are mostly inside the VDSO (time.Now calls
// runtime.walltime and runtime.nanotime, which switch to g0's stack and call
// vdso code that has no Go frame data): the case m.vdsoSP and m.vdsoPC exist for.
func startClock() {
	for i := 0; i < 2; i++ {
		go clockReader()
	}
}

//go:noinline
func clockReader() {
	var total int64
	for i := 1; ; i++ {
		total += time.Now().UnixNano() & 1
		if i%1024 == 0 {
			atomic.AddUint64(&clockReads, uint64(total&1)+1)
		}
	}
}
