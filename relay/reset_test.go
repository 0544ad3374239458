package relay_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/relay"
	"golang.org/x/sys/unix"
)

// TestSourceReset: a source socket whose peer vanished with data unread
// (the kernel's ECONNRESET) ends the link with an error naming the source,
// in the splice path as in the copy path — not as if the sink's reader had
// left, which would let the pipeline downstream take a truncated stream for
// a complete one.
func TestSourceReset(t *testing.T) {
	for _, tc := range []struct {
		mode relay.Mode
		call string
	}{
		{relay.ModeCopy, "read"},
		{relay.ModeAuto, "splice"},
		{relay.ModeSplice, "splice"},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			src := newPair(t, "socket", true, 0)
			dst := newPair(t, "pipe", false, 0)
			// Bytes the peer never reads, then the payload, then the peer
			// goes away: reading the relay's end yields the payload, then
			// ECONNRESET.
			if _, err := unix.Write(src.relay, []byte("unread")); err != nil {
				t.Fatal(err)
			}
			payload := []byte(strings.Repeat("payload ", 1000))
			if _, err := src.test.Write(payload); err != nil {
				t.Fatal(err)
			}
			src.test.Close()

			e := newEnv(t, relay.Options{Mode: tc.mode})
			done := make(chan relay.LinkStats, 1)
			e.do(func() {
				_, err := e.r.NewLink(relay.LinkConfig{
					Src:    relay.Endpoint{FD: src.relay, Name: "src", Owned: true},
					Dst:    relay.Endpoint{FD: dst.relay, Name: "dst", Owned: true},
					OnDone: func(k *relay.Link) { done <- k.Stats() },
				})
				if err != nil {
					t.Error(err)
					unix.Close(src.relay)
					unix.Close(dst.relay)
					close(done)
				}
			})
			got, err := io.ReadAll(dst.test)
			dst.test.Close()
			if err != nil {
				t.Fatal(err)
			}
			var st relay.LinkStats
			select {
			case st = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("link did not end")
			}
			if string(got) != string(payload) {
				t.Errorf("delivered %d bytes, want the %d before the reset", len(got), len(payload))
			}
			if st.SinkClosed {
				t.Errorf("link reports the sink's reader gone; the source was reset")
			}
			if !errors.Is(st.Err, unix.ECONNRESET) || !strings.Contains(st.Err.Error(), "src") ||
				!strings.Contains(st.Err.Error(), tc.call) {
				t.Errorf("link error %v, want ECONNRESET naming src and %s", st.Err, tc.call)
			}
		})
	}
}
