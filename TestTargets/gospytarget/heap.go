package main

// Heap and GC control commands (opt-in: nothing runs until a command asks), for comparing
// gospy's heap and collector figures with the runtime's own:
//
//	retain BYTES  allocate BYTES more in 1 MiB []byte blocks and keep them -> RETAINED <total kept>
//	gcs N         runtime.GC() N times                                      -> GCS <N>
//	memstats      GOGC, GOMEMLIMIT and runtime.ReadMemStats, read in that order ->
//	              MEMSTATS heapalloc=<n> heapinuse=<n> heapobjects=<n> stackinuse=<n> nextgc=<n>
//	              numgc=<n> numforcedgc=<n> lastgc=<unix ns> pausetotal=<ns> gogc=<n> memlimit=<n>
//
// memstats allocates nothing on the heap after ReadMemStats (which flushes every P's cached
// spans into the totals): the line is built in a buffer made beforehand, so the totals a
// reader outside sees afterwards are the ones printed, until something else allocates.

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
)

var (
	retained      [][]byte
	retainedBytes int64
	memStats      runtime.MemStats
	memstatsLine  = make([]byte, 0, 1024)
)

const retainBlock = 1 << 20

func heapCommand(cmd, arg string) {
	switch cmd {
	case "retain":
		n, err := strconv.ParseInt(arg, 10, 64)
		if err != nil || n < 0 || n > 1<<34 {
			reply("ERROR retain wants a byte count, got %q", arg)
			return
		}
		for kept := int64(0); kept < n; kept += retainBlock {
			block := make([]byte, retainBlock)
			block[0] = 1
			retained = append(retained, block)
		}
		retainedBytes += (n + retainBlock - 1) / retainBlock * retainBlock
		reply("RETAINED %d", retainedBytes)
	case "gcs":
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 || n > 1000 {
			reply("ERROR gcs wants a count, got %q", arg)
			return
		}
		for i := 0; i < n; i++ {
			runtime.GC()
		}
		reply("GCS %d", n)
	case "memstats":
		writeMemstats()
	}
}

// writeMemstats reads GOGC (setting it to -1 returns it; it is put back at once, which
// recomputes the same goal), GOMEMLIMIT (a negative value reads without changing), then
// MemStats, and writes them without allocating.
func writeMemstats() {
	gogc := debug.SetGCPercent(-1)
	debug.SetGCPercent(gogc)
	limit := debug.SetMemoryLimit(-1)
	runtime.ReadMemStats(&memStats)
	m := &memStats
	b := append(memstatsLine[:0], "MEMSTATS heapalloc="...)
	b = strconv.AppendUint(b, m.HeapAlloc, 10)
	b = append(b, " heapinuse="...)
	b = strconv.AppendUint(b, m.HeapInuse, 10)
	b = append(b, " heapobjects="...)
	b = strconv.AppendUint(b, m.HeapObjects, 10)
	b = append(b, " stackinuse="...)
	b = strconv.AppendUint(b, m.StackInuse, 10)
	b = append(b, " nextgc="...)
	b = strconv.AppendUint(b, m.NextGC, 10)
	b = append(b, " numgc="...)
	b = strconv.AppendUint(b, uint64(m.NumGC), 10)
	b = append(b, " numforcedgc="...)
	b = strconv.AppendUint(b, uint64(m.NumForcedGC), 10)
	b = append(b, " lastgc="...)
	b = strconv.AppendUint(b, m.LastGC, 10)
	b = append(b, " pausetotal="...)
	b = strconv.AppendUint(b, m.PauseTotalNs, 10)
	b = append(b, " gogc="...)
	b = strconv.AppendInt(b, int64(gogc), 10)
	b = append(b, " memlimit="...)
	b = strconv.AppendInt(b, limit, 10)
	b = append(b, '\n')
	memstatsLine = b
	os.Stdout.Write(b)
}
