//go:build !go1.25 && !(go1.24 && goexperiment.synctest)

package main

import (
	"fmt"
	"os"
)

// -scenario=synctest needs testing/synctest: Go 1.25+, or 1.24 built with GOEXPERIMENT=synctest.
func startSynctest() {
	fmt.Fprintln(os.Stderr, "gospytarget: -scenario synctest needs Go 1.25 or newer, or Go 1.24 built with GOEXPERIMENT=synctest")
	os.Exit(2)
}
