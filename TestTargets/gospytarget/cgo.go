//go:build cgo

package main

/*
#include <unistd.h>

// gospy_blocking_read blocks forever in read(2) on a pipe nobody writes to.
static int gospy_fds[2] = {-1, -1};

static int gospy_blocking_read(void) {
	char b;
	if (pipe(gospy_fds) != 0) return -1;
	return (int)read(gospy_fds[0], &b, 1);
}
*/
import "C"

func init() {
	extraParkers = append(extraParkers, startCgo)
}

func startCgo() {
	ready.Add(1)
	go parkCgoRead()
}

// parkCgoRead is blocked inside a C function (state "syscall", under
// runtime.cgocall).
func parkCgoRead() {
	ready.Done()
	n := C.gospy_blocking_read()
	sink += uint64(n)
	<-never
}
