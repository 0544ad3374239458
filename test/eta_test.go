package test_test

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// etaRE matches --progress's share and ETA: "42% ETA 0:07".
var etaRE = regexp.MustCompile(`(\d+)% ETA (\d+):(\d\d)`)

// TestProgressETATerminal: with stdin a regular file and stderr a
// terminal, --progress shows the share done and an ETA that counts down
// to the real end (the rate limit makes the run last about 3 s), and the
// final line says 100%; the bytes arrive intact.
func TestProgressETATerminal(t *testing.T) {
	const n = 6 << 20
	in, sum := payload(t, n)
	h := sha256.New()
	s, wall := runOnTerminal(t, 120, in, h, 30*time.Second, "--progress", "--rate-limit", "2M")
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		t.Errorf("stdout is not the data")
	}
	draws := strings.Split(strings.TrimSuffix(s, "\r\n"), "\r")
	var etas int
	prevPct := -1
	for _, d := range draws {
		m := etaRE.FindStringSubmatch(d)
		if m == nil {
			continue
		}
		etas++
		pct, _ := strconv.Atoi(m[1])
		mins, _ := strconv.Atoi(m[2])
		secs, _ := strconv.Atoi(m[3])
		eta := time.Duration(mins*60+secs) * time.Second
		if pct < prevPct || pct > 100 {
			t.Errorf("share %d%% after %d%%: want a rising share", pct, prevPct)
		}
		prevPct = pct
		// At 2 MiB/s the whole run is 3 s: the time left is the share
		// left of it, within a second and a half (the ETA is rounded up
		// to whole seconds and the first readings average little).
		left := time.Duration(float64(3*time.Second) * float64(100-pct) / 100)
		if off := eta - left; off < -1500*time.Millisecond || off > 1500*time.Millisecond {
			t.Errorf("%q: ETA %v at %d%%, want about %v", d, eta, pct, left)
		}
	}
	if etas < 4 {
		t.Errorf("%d redraws with a share and an ETA in %v, want several", etas, wall)
	}
	if last := draws[len(draws)-1]; !strings.Contains(last, " done 100%") {
		t.Errorf("last redraw %q: want done 100%%", last)
	}
}

// TestProgressSize: with stdin a pipe, --size SIZE gives --progress its
// total, in stdin mode and in a pipeline; without it no share is shown.
func TestProgressSize(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		eta  bool
	}{
		{"stdin", []string{"--progress", "--size", strconv.Itoa(50 * 32 << 10)}, true},
		{"pipeline", []string{"--progress", "--size", strconv.Itoa(50 * 32 << 10), "cat", "cat"}, true},
		{"unknown", []string{"--progress"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, runOpts{stdin: paced(), timeout: 20 * time.Second}, tc.args...)
			if res.code != 0 || res.sum != pacedSum() {
				t.Fatalf("exit %d; stderr: %q", res.code, res.stderr)
			}
			t.Logf("stderr:\n%s", res.stderr)
			lines := strings.Split(strings.TrimSuffix(res.stderr, "\n"), "\n")
			for _, l := range lines[:len(lines)-1] {
				if got := etaRE.MatchString(l); got != tc.eta {
					t.Errorf("line %q: share and ETA shown %v, want %v", l, got, tc.eta)
				}
			}
			if last := lines[len(lines)-1]; strings.Contains(last, " done 100%") != tc.eta {
				t.Errorf("final line %q: 100%% shown %v, want %v", last, !tc.eta, tc.eta)
			}
		})
	}
}
