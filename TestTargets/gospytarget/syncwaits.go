package main

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"
	_ "unsafe" // go:linkname
)

// --- control command `syncwaits` ---

// The first `syncwaits` starts goroutines blocked on sync objects, asleep, in a channel cycle,
// in a leaked worker pool and in a busy, healthy pool; every `syncwaits` replies with what each
// of them waits on, as the goroutine itself reported it before it blocked:
//
//	SYNCWAITS goid:kind:object:extra[,...]
//
// kind       object (fmt's %p)   extra
// mutex      the sync.Mutex      its place in the Mutex's queue (1 = first woken)
// rwmutex-w  the sync.RWMutex    0: a writer waiting for the readers to leave
// rwmutex-r  the sync.RWMutex    0: a reader waiting behind that writer
// rwmutex-wl the sync.RWMutex    0: a second writer, waiting for the first (on the inner Mutex)
// waitgroup  the sync.WaitGroup  0
// cond       the sync.Cond       its place in the Cond's queue
// sleep      0x0                 runtime.nanotime() just before time.Sleep(1h) (it wakes 1h later)
// cycle      the chan it receives on: two goroutines, each waiting for the other to send
// leaked     the chan of a pool whose producer left without closing it
// busy       the chan of a pool whose producer keeps sending (not stuck)
//
// Every goroutine is parked before the next one starts, so queue order is start order.
// syncwaitsMutex is a global: with symbols, gospy names it.

//go:linkname runtimeNanotime runtime.nanotime
func runtimeNanotime() int64

var (
	syncwaitsMutex   sync.Mutex
	syncwaitsOnce    sync.Once
	syncwaitsLock    sync.Mutex
	syncwaitsEntries []string
	// startParkedOne's, used by one goroutine at a time.
	syncwaitsDumpBuffer = make([]byte, 64<<10)
)

func syncWaitsReply() string {
	// Started from a goroutine that then ends, so that no stack left behind still holds
	// the objects (the channels must be referred to only by the goroutines blocked on them).
	syncwaitsOnce.Do(func() {
		done := make(chan bool)
		go func() {
			startSyncWaits()
			done <- true
		}()
		<-done
	})
	syncwaitsLock.Lock()
	defer syncwaitsLock.Unlock()
	return "SYNCWAITS " + strings.Join(syncwaitsEntries, ",")
}

func reportSyncWait(kind string, object interface{}, extra int64) uint64 {
	addr := "0x0"
	if object != nil {
		addr = fmt.Sprintf("%p", object)
	}
	goid := currentGoid()
	syncwaitsLock.Lock()
	syncwaitsEntries = append(syncwaitsEntries, fmt.Sprintf("%d:%s:%s:%d", goid, kind, addr, extra))
	syncwaitsLock.Unlock()
	return goid
}

// startParkedOne runs body in a new goroutine and returns once that goroutine is parked
// (its traceback header shows a wait, not running or runnable).
func startParkedOne(body func(ready chan<- uint64)) {
	ready := make(chan uint64)
	go body(ready)
	goid := <-ready
	header := fmt.Sprintf("goroutine %d [", goid)
	for {
		// One buffer for all (little garbage, few collections: fewer freed objects whose
		// stale addresses could linger in stacks).
		n := runtime.Stack(syncwaitsDumpBuffer, true)
		for n == len(syncwaitsDumpBuffer) {
			syncwaitsDumpBuffer = make([]byte, 2*len(syncwaitsDumpBuffer))
			n = runtime.Stack(syncwaitsDumpBuffer, true)
		}
		dump := string(syncwaitsDumpBuffer[:n])
		if i := strings.Index(dump, header); i >= 0 {
			state := dump[i+len(header):]
			if !strings.HasPrefix(state, "running") && !strings.HasPrefix(state, "runnable") {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
}

func startSyncWaits() {
	// Mutex: held by nobody's stack, three waiters in order.
	syncwaitsMutex.Lock()
	for i := 1; i <= 3; i++ {
		place := int64(i)
		startParkedOne(func(ready chan<- uint64) {
			ready <- reportSyncWait("mutex", &syncwaitsMutex, place)
			syncwaitsMutex.Lock()
		})
	}

	// RWMutex: a reader holds it; a writer waits for it; a reader waits behind the writer;
	// a second writer waits for the first.
	rw := new(sync.RWMutex)
	rw.RLock()
	startParkedOne(func(ready chan<- uint64) {
		ready <- reportSyncWait("rwmutex-w", rw, 0)
		rw.Lock()
	})
	startParkedOne(func(ready chan<- uint64) {
		ready <- reportSyncWait("rwmutex-r", rw, 0)
		rw.RLock()
	})
	startParkedOne(func(ready chan<- uint64) {
		ready <- reportSyncWait("rwmutex-wl", rw, 0)
		rw.Lock()
	})

	// WaitGroup: never done.
	wg := new(sync.WaitGroup)
	wg.Add(1)
	for i := 0; i < 2; i++ {
		startParkedOne(func(ready chan<- uint64) {
			ready <- reportSyncWait("waitgroup", wg, 0)
			wg.Wait()
		})
	}

	// Cond: never signalled.
	cond := sync.NewCond(new(sync.Mutex))
	for i := 1; i <= 2; i++ {
		place := int64(i)
		startParkedOne(func(ready chan<- uint64) {
			cond.L.Lock()
			ready <- reportSyncWait("cond", cond, place)
			cond.Wait()
		})
	}

	// Sleep for an hour.
	startParkedOne(func(ready chan<- uint64) {
		ready <- reportSyncWait("sleep", nil, runtimeNanotime())
		time.Sleep(time.Hour)
	})

	startSyncCycle()
	startLeakedPool()
	startBusyPool()
}

// Two goroutines, each receiving what only the other would send afterwards.
//
//go:noinline
func startSyncCycle() {
	// Buffered (but empty) channels of an element no other channel here has: an allocation
	// of a size class of their own. A dead channel's address left in a stack slot (the parked
	// set's, startParkedOne's) would otherwise hide a channel that reuses its memory: gospy
	// cannot tell a stale word from a live one.
	a, b := make(chan syncJob, 1), make(chan syncJob, 1)
	startParkedOne(func(ready chan<- uint64) { syncCycleMember(ready, a, b) })
	startParkedOne(func(ready chan<- uint64) { syncCycleMember(ready, b, a) })
}

//go:noinline
func syncCycleMember(ready chan<- uint64, in <-chan syncJob, out chan<- syncJob) {
	ready <- reportSyncWait("cycle", in, 0)
	v := <-in
	out <- v
}

// Workers on a channel whose producer sent two jobs and left without closing it.
//
//go:noinline
func startLeakedPool() {
	jobs := make(chan syncJob, 1) // for the same reason as the cycle's
	for i := 0; i < 3; i++ {
		startParkedOne(func(ready chan<- uint64) { syncLeakedWorker(ready, jobs) })
	}
	done := make(chan bool)
	go func() {
		jobs <- syncJob{}
		jobs <- syncJob{}
		done <- true
	}()
	<-done
}

// syncJob's size gives the cycle's and the leaked pool's channels a size class of their own.
type syncJob struct{ id [5]int64 }

//go:noinline
func syncLeakedWorker(ready chan<- uint64, jobs <-chan syncJob) {
	ready <- reportSyncWait("leaked", jobs, 0)
	for job := range jobs {
		_ = job
	}
}

// Workers on a channel whose producer keeps sending, sleeping between jobs.
//
//go:noinline
func startBusyPool() {
	jobs := make(chan int)
	for i := 0; i < 3; i++ {
		startParkedOne(func(ready chan<- uint64) { syncPoolWorker(ready, "busy", jobs) })
	}
	go syncBusyProducer(jobs)
}

//go:noinline
func syncPoolWorker(ready chan<- uint64, kind string, jobs <-chan int) {
	ready <- reportSyncWait(kind, jobs, 0)
	for job := range jobs {
		_ = job
	}
}

//go:noinline
func syncBusyProducer(jobs chan<- int) {
	for i := 0; ; i++ {
		jobs <- i
		time.Sleep(5 * time.Millisecond)
	}
}
