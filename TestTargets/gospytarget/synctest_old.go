//go:build !go1.25

package main

import (
	"fmt"
	"os"
)

// -scenario=synctest needs testing/synctest.Test (synctest.go, Go 1.25+).
func startSynctest() {
	fmt.Fprintln(os.Stderr, "gospytarget: -scenario synctest needs Go 1.25 or newer (testing/synctest.Test)")
	os.Exit(2)
}
