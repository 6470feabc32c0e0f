// Command gospytarget parks goroutines in known states so that gospy's view
// of a live process can be compared with the runtime's own goroutine dump.
//
// Scenarios (-scenario):
//
//	parked   (default) only the parked set (see parked.go)
//	many     the parked set plus -n goroutines blocked in a channel receive
//	         (half in manyWaiterA, half in manyWaiterB)
//	churn    the parked set plus a spawner that keeps creating and ending
//	         thousands of short-lived goroutines per second
//	waits    the parked set plus goroutines blocked on channels (waits.go)
//	growing  the parked set plus 10 steadyWorker goroutines, then 5 more
//	         leakyWorker goroutines every 200ms (a simulated leak)
//	iowaits  the parked set plus goroutines waiting on sockets, pipes and a system call (iowaits.go)
//	headers  the parked set plus labels that need quoting and Go 1.19's "?" rule (headers.go)
//	synctest the parked set plus two synctest bubbles (synctest.go, Go 1.25+)
//	timers   the parked set plus goroutines blocked on timer channels (timers.go)
//
// Control protocol, one line per command on stdin, one reply line on stdout:
//
//	(on start)    READY pid=<pid> goroutines=<runtime.NumGoroutine()>
//	dump PATH     runtime.Stack(buf, true) to PATH   -> DUMPED PATH
//	debug1 PATH   goroutine profile, debug=1 to PATH -> DUMPED PATH
//	debug2 PATH   goroutine profile, debug=2 to PATH -> DUMPED PATH
//	pprof PATH    goroutine profile, debug=0 (gzipped protobuf) -> DUMPED PATH
//	count         -> COUNT <runtime.NumGoroutine()>
//	gc            runtime.GC() twice (records when parked goroutines began waiting) -> GC done
//	waits         -> WAITS ... (see waits.go)
//	iowaits       -> IOWAITS ... (see iowaits.go)
//	syncwaits     -> SYNCWAITS ... (see syncwaits.go)
//	timers        -> TIMERS ... (see timers.go)
//	leakcheck     run the goroutine leak detection -> LEAKCHECK ... (see leakcheck.go)
//	stalechan     a channel whose address only a dead stack slot holds -> STALECHAN ... (see stalechan.go)
//	stats         -> STATS goroutines=<n> churned=<n> leaked=<n> spins=<n>
//	httppprof     net/http/pprof on a loopback port (httppprof.go) -> HTTP <addr>
//	quit          exit 0
//	(anything else, or a failed command) -> ERROR <message>
//
// The process exits 0 on stdin EOF, and exits by itself when its parent
// process goes away (os.Getppid() changes; checked every second).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"time"
)

var (
	scenario = flag.String("scenario", "parked", "parked, many, churn, growing, clock or headers")
	manyN    = flag.Int("n", 10000, "number of extra goroutines for -scenario=many")
)

func main() {
	flag.Parse()
	go watchParent(os.Getppid())

	switch *scenario {
	case "parked", "many", "churn", "growing", "clock", "waits", "headers", "record", "synctest", "iowaits", "timers":
	default:
		fmt.Fprintf(os.Stderr, "gospytarget: unknown scenario %q (want parked, many, churn, growing, clock, waits, headers or record)\n", *scenario)
		os.Exit(2)
	}
	if *scenario == "many" && *manyN < 0 {
		fmt.Fprintf(os.Stderr, "gospytarget: -n must be >= 0\n")
		os.Exit(2)
	}

	startParked()
	switch *scenario {
	case "many":
		startMany(*manyN)
	case "churn":
		startChurn()
	case "growing":
		startGrowing()
	case "clock":
		startClock()
	case "waits":
		startWaits()
	case "iowaits":
		startIOWaits() // iowaits.go
	case "timers":
		startTimers() // timers.go
	case "headers":
		startHeaders()
	case "synctest":
		startSynctest() // synctest.go
	case "record":
		startRecord() // record.go
	}
	if *scenario != "record" { // record.go: its worker is the one busy goroutine
		startSpinner()
	}

	reply("READY pid=%d goroutines=%d", os.Getpid(), runtime.NumGoroutine())
	controlLoop()
	os.Exit(0)
}

// reply writes one line to stdout. os.Stdout is unbuffered, so the line is
// on its way as soon as Fprintf returns, even when stdout is a pipe.
func reply(format string, args ...interface{}) {
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

// controlLoop serves commands from stdin until quit or EOF. While idle the
// main goroutine sits here, in a blocking read of fd 0 (state "syscall" when
// stdin is a pipe).
func controlLoop() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64*1024), 1024*1024)
	for in.Scan() {
		line := strings.TrimSpace(in.Text())
		if line == "" {
			continue
		}
		cmd, arg := line, ""
		if i := strings.IndexAny(line, " \t"); i >= 0 {
			cmd, arg = line[:i], strings.TrimSpace(line[i+1:])
		}
		switch cmd {
		case "quit":
			return
		case "count":
			reply("COUNT %d", runtime.NumGoroutine())
		case "gc":
			// A collection's stack scan records when each parked goroutine was first
			// seen blocked (g.waitsince, what the dump's "N minutes" counts from) as
			// the start of the previous collection: zero before the first one.
			runtime.GC()
			runtime.GC()
			reply("GC done")
		case "waits":
			reply("%s", waitsReply())
		case "iowaits":
			reply("%s", ioWaitsReply()) // iowaits.go
		case "timers":
			reply("%s", timersReply()) // timers.go
		case "leakcheck":
			reply("%s", leakCheckReply()) // leakcheck.go
		case "stalechan":
			reply("%s", staleChanReply()) // stalechan.go
		case "syncwaits":
			reply("%s", syncWaitsReply()) // syncwaits.go
		case "work":
			reply(recordWork()) // record.go
		case "httppprof":
			httpPprofCommand()
		case "stats":
			reply("STATS goroutines=%d churned=%d leaked=%d spins=%d",
				runtime.NumGoroutine(), churned.Load(), leaked.Load(), atomic.LoadUint64(&spinLaps))
		case "dump", "debug1", "debug2", "pprof":
			if arg == "" {
				reply("ERROR %s needs a path", cmd)
				continue
			}
			if err := writeDump(cmd, arg); err != nil {
				reply("ERROR %s %s: %v", cmd, arg, oneLine(err.Error()))
				continue
			}
			reply("DUMPED %s", arg)
		case "retain", "gcs", "memstats": // heap.go
			heapCommand(cmd, arg)
		default:
			reply("ERROR unknown command %q", cmd)
		}
	}
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

func writeDump(kind, path string) error {
	if kind == "dump" {
		return os.WriteFile(path, allStacks(), 0o644)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	debug := map[string]int{"pprof": 0, "debug1": 1, "debug2": 2}[kind]
	werr := pprof.Lookup("goroutine").WriteTo(f, debug)
	cerr := f.Close()
	if werr != nil {
		return werr
	}
	return cerr
}

// allStacks returns runtime.Stack(buf, true), growing buf until it fits.
func allStacks() []byte {
	size := 1 << 20
	for {
		buf := make([]byte, size)
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return buf[:n]
		}
		size *= 2
	}
}

// watchParent exits the process when the parent goes away (we get
// re-parented, so getppid changes), so a target never outlives its test.
func watchParent(ppid int) {
	for {
		time.Sleep(time.Second)
		if os.Getppid() != ppid {
			fmt.Fprintf(os.Stderr, "gospytarget: parent %d is gone, exiting\n", ppid)
			os.Exit(0)
		}
	}
}
