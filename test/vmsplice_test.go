package test_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipeloop/pipeloop/internal/fdops"
	"github.com/pipeloop/pipeloop/report"
)

// TestVmspliceSplicedOnward: copy mode lends whole ring pages to its
// stdout pipe, and the reader of that pipe (a second pipeloop in splice
// mode) moves those very pages on into the next pipe without copying, so
// they stay referenced long after the first pipe is drained. The bytes
// must still arrive exactly, with lending on and off; the stats must say
// which path ran.
func TestVmspliceSplicedOnward(t *testing.T) {
	src, want := payload(t, 64<<20)
	lending := fdops.VmspliceAvailable() == nil
	for _, flag := range []string{"--vmsplice=true", "--vmsplice=false"} {
		t.Run(flag, func(t *testing.T) {
			stats := filepath.Join(t.TempDir(), "stats.json")
			cmd := exec.Command("sh", "-c", `"$1" --mode copy "$2" --stats-json "$3" | "$1" --mode splice | sha256sum`,
				"sh", bin, flag, stats)
			cmd.Stdin = reopen(t, src)
			cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if got := strings.Fields(string(out))[0]; got != want {
				t.Fatalf("sha256 %s, want %s", got, want)
			}
			b, err := os.ReadFile(stats)
			if err != nil {
				t.Fatal(err)
			}
			var r report.Report
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			l := r.Links[0]
			t.Logf("%s: %d vmsplices lent %d of %d bytes, %d writes", flag, l.Vmsplices, l.LentBytes, l.Bytes, l.Writes)
			if l.Bytes != 64<<20 || l.CopyBytes != l.Bytes {
				t.Fatalf("link moved %d bytes (%d copied), want all %d through the ring", l.Bytes, l.CopyBytes, 64<<20)
			}
			switch {
			case flag == "--vmsplice=false" || !lending:
				if l.Vmsplices != 0 || l.LentBytes != 0 {
					t.Fatalf("%d vmsplices lent %d bytes with lending off or unavailable", l.Vmsplices, l.LentBytes)
				}
			case l.Vmsplices == 0 || l.LentBytes < 2<<20:
				// A ring lends at least until two refills in a row prove
				// slow (fdio refill), so its first 2 MiB at the least.
				t.Fatalf("%d vmsplices lent %d of %d bytes: lending did not run", l.Vmsplices, l.LentBytes, l.Bytes)
			}
		})
	}
}
