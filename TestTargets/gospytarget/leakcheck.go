package main

import (
	"io"
	"regexp"
	"runtime/pprof"
	"strings"
)

// --- control command `leakcheck` ---

// Runs the runtime's goroutine leak detection (writing the goroutineleak profile: built in
// from Go 1.27, GOEXPERIMENT=goroutineleakprofile on 1.26), which marks every goroutine it
// finds blocked for good as leaked, then replies with the goroutines the runtime's own
// traceback shows as "(leaked)":
//
//	LEAKCHECK goid[,goid...]    (empty after the space when none is)
//	ERROR no goroutineleak profile in this build
//
// Send `syncwaits` first for a channel cycle, a leaked pool and other stuck goroutines.

var leakedHeader = regexp.MustCompile(`(?m)^goroutine (\d+) \[[^\]]* \(leaked\)[^\]]*\]:$`)

func leakCheckReply() string {
	profile := pprof.Lookup("goroutineleak")
	if profile == nil {
		return "ERROR no goroutineleak profile in this build"
	}
	if err := profile.WriteTo(io.Discard, 0); err != nil {
		return "ERROR goroutineleak: " + oneLine(err.Error())
	}
	var ids []string
	for _, match := range leakedHeader.FindAllSubmatch(allStacks(), -1) {
		ids = append(ids, string(match[1]))
	}
	return "LEAKCHECK " + strings.Join(ids, ",")
}
