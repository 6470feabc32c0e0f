//go:build go1.24 && !go1.25 && goexperiment.synctest

package main

import "testing/synctest"

// -scenario synctest on Go 1.24 built with GOEXPERIMENT=synctest: the same
// bubbles through synctest.Run (no *testing.T then), whose headers say
// ", synctest group <goid of the goroutine that called Run>". Like 1.25, it
// needs GODEBUG=asynctimerchan=0.
func startSynctest() {
	outsideMutex.Lock()
	go synctest.Run(bubbleAMain)
	go synctest.Run(bubbleBMain)
	awaitBubbles()
}
