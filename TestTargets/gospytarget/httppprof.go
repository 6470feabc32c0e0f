package main

// Opt-in control command "httppprof": starts net/http/pprof on a loopback port so that a test
// can compare gospy serve's /pid/N/debug/pprof/goroutine with the target's own endpoint.
// Nothing here runs unless the command is sent: the default goroutine set is unchanged.
//
//	httppprof     -> HTTP 127.0.0.1:<port>   (the same address on later calls)

import (
	"net"
	"net/http"
	_ "net/http/pprof"
	"sync"
)

var (
	pprofOnce sync.Once
	pprofAddr string
	pprofErr  error
)

func startHTTPPprof() (string, error) {
	pprofOnce.Do(func() {
		listener, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			pprofErr = err
			return
		}
		pprofAddr = listener.Addr().String()
		go http.Serve(listener, nil)
	})
	return pprofAddr, pprofErr
}

// httpPprofCommand answers the control command.
func httpPprofCommand() {
	addr, err := startHTTPPprof()
	if err != nil {
		reply("ERROR httppprof: %v", oneLine(err.Error()))
		return
	}
	reply("HTTP %s", addr)
}
