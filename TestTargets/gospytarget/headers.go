package main

import (
	"context"
	"io"
	"runtime/pprof"
	"sync"
)

// --- -scenario=headers ---
//
// The parked set plus goroutines whose traceback headers and argument marks
// depend on rules the default set does not exercise:
//
//   - quotedLabelWorker carries pprof labels that need quoting (spaces, quotes,
//     a tab, a dash, non-ASCII, an invalid UTF-8 byte): Go 1.26 prints them in
//     the header when GODEBUG=tracebacklabels=1, Go 1.27 also by default for
//     modules whose go directive is 1.27 or newer.
//   - readHeaderLike blocks inside a call inlined into it (io.ReadFull's call
//     to io.ReadAtLeast), with register arguments it spills only after the
//     inlined call's start: Go 1.19 reads their liveness at that start and
//     prints them with "?" (golang.org/x/net/http2.readFrameHeader does this).

func startHeaders() {
	var started sync.WaitGroup
	started.Add(2)
	labels := pprof.Labels(
		"region", "eu-west",
		"user id", "a b",
		"plain", "x.y/z_1",
		"quote", "say \"hi\"\tnow\\",
		"city", "Zürich \u00a0\U0001F600\x7f",
		"raw", "bad\xffbyte",
	)
	pprof.Do(context.Background(), labels, func(ctx context.Context) {
		go quotedLabelWorker(&started)
	})
	go readHeaderLike(make([]byte, 16), blockingReader{started: &started})
	started.Wait()
}

func quotedLabelWorker(started *sync.WaitGroup) {
	started.Done()
	<-never
}

// blockingReader's Read never returns.
type blockingReader struct{ started *sync.WaitGroup }

func (r blockingReader) Read(p []byte) (int, error) {
	r.started.Done()
	<-never
	return 0, io.EOF
}

type headerLike struct {
	Length uint32
	Type   uint8
	Flags  uint8
	Stream uint32
}

// readHeaderLike has the shape of http2.readFrameHeader.
//
//go:noinline
func readHeaderLike(buf []byte, r io.Reader) (headerLike, error) {
	_, err := io.ReadFull(r, buf[:9])
	if err != nil {
		return headerLike{}, err
	}
	return headerLike{
		Length: uint32(buf[0])<<16 | uint32(buf[1])<<8 | uint32(buf[2]),
		Type:   buf[3],
		Flags:  buf[4],
		Stream: uint32(buf[5])<<24 | uint32(buf[6])<<16 | uint32(buf[7])<<8 | uint32(buf[8]),
	}, nil
}
