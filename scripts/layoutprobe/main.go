// Command layoutprobe is a small program whose DWARF describes the Go runtime's structs.
// scripts/gen-layouts.sh builds it with every supported toolchain and reads runtime.g,
// runtime.m, runtime.p, runtime.schedt, runtime.moduledata, ... from its DWARF to generate
// gospy's built-in layout tables; the tests build it again and check the tables still match.
//
// The runtime's types are in the DWARF of any Go binary; this program also exercises
// goroutines, channels, maps, select, defer/panic/recover and timers so that the types those
// use are certainly kept. Standard library only.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

type pair struct {
	key   string
	value int
}

func worker(id int, jobs <-chan pair, results chan<- pair, wg *sync.WaitGroup) {
	defer wg.Done()
	for job := range jobs {
		results <- pair{job.key, job.value * id}
	}
}

func recoverable() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("recovered: %v", r)
		}
	}()
	var m map[string]int
	m["boom"] = 1 // panics: assignment to entry in nil map
	return nil
}

func main() {
	jobs := make(chan pair)
	results := make(chan pair, 16)
	var wg sync.WaitGroup
	for i := 1; i <= 4; i++ {
		wg.Add(1)
		go worker(i, jobs, results, &wg)
	}
	go func() {
		for i := 0; i < 8; i++ {
			jobs <- pair{fmt.Sprint("k", i), i}
		}
		close(jobs)
	}()
	go func() { wg.Wait(); close(results) }()

	sums := map[string]int{}
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
loop:
	for {
		select {
		case r, ok := <-results:
			if !ok {
				break loop
			}
			sums[r.key] += r.value
		case <-timeout.C:
			fmt.Fprintln(os.Stderr, "timeout")
			os.Exit(1)
		}
	}
	// A Cond wait and a sleep keep runtime.notifyList and the sleep timer's types in the DWARF.
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	ready := false
	go func() { time.Sleep(time.Millisecond); mu.Lock(); ready = true; cond.Broadcast(); mu.Unlock() }()
	mu.Lock()
	for !ready {
		cond.Wait()
	}
	mu.Unlock()
	if err := recoverable(); err == nil {
		os.Exit(2)
	}
	buf := make([]byte, 1<<16)
	n := runtime.Stack(buf, true)
	fmt.Println(len(sums), n > 0, runtime.NumGoroutine() >= 1)
}
