package main

import (
	"strings"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/relay"
)

func TestProgressFormat(t *testing.T) {
	begin := time.Unix(1000, 0)
	p := &progress{begin: begin}
	at := func(d time.Duration) time.Time { return begin.Add(d) }
	for _, tc := range []struct {
		name       string
		prev, s    snapshot
		want       string
		wantSuffix bool
	}{
		{
			name: "stdin",
			prev: snapshot{at: at(time.Second), links: []linkCounters{{bytes: 1e6}}},
			s:    snapshot{at: at(2 * time.Second), links: []linkCounters{{bytes: 3e6, full: 900 * time.Millisecond}}},
			want: "pipeloop 0:02  3.00MB 2.00MB/s full 90%",
		},
		{
			name: "pipeline",
			prev: snapshot{at: at(time.Second), pipe: true, links: []linkCounters{{bytes: 1e9}, {bytes: 5e8}}},
			s: snapshot{at: at(1250 * time.Millisecond), pipe: true,
				links: []linkCounters{{bytes: 1.1e9}, {bytes: 5.1e8, empty: 200 * time.Millisecond}}},
			want: "pipeloop 0:01  1→2 1.10GB 400MB/s | 2→3 510MB 40.0MB/s empty 80%",
		},
		{
			name: "final line averages over the run",
			prev: snapshot{at: at(4 * time.Second), links: []linkCounters{{bytes: 7e6}}},
			s:    snapshot{at: at(5 * time.Second), final: true, links: []linkCounters{{bytes: 8e6}}},
			want: "pipeloop 0:05 done  8.00MB 1.60MB/s avg",
		},
		{
			name: "no links",
			s:    snapshot{at: at(61 * time.Second)},
			want: "pipeloop 1:01",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.format(tc.prev, tc.s); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestCompact(t *testing.T) {
	for in, want := range map[float64]string{
		0: "0B", 999: "999B", 1000: "1.00kB", 9994: "9.99kB", 12345: "12.3kB", 786432: "786kB",
		1.64e6: "1.64MB", 3.2e9: "3.20GB", 5e15: "5.00PB", 5e18: "5000PB",
	} {
		if got := compact(in); got != want {
			t.Errorf("compact(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestClock(t *testing.T) {
	for in, want := range map[time.Duration]string{
		0: "0:00", 59 * time.Second: "0:59", 61 * time.Second: "1:01", 3725 * time.Second: "1:02:05",
	} {
		if got := clock(in); got != want {
			t.Errorf("clock(%v) = %q, want %q", in, got, want)
		}
	}
	if got := cut("1→2 ééé", 5); got != "1→2 é" {
		t.Errorf("cut = %q", got)
	}
}

// BenchmarkProgressSample is what one --progress tick costs the loop
// goroutine for a three-stage pipeline: a sample of two links and a
// channel send. It runs 4 times a second on a terminal.
func BenchmarkProgressSample(b *testing.B) {
	p := &progress{samples: make(chan snapshot, 1)}
	links := []relay.LinkStats{{Src: "stage 1 (a)", Bytes: 1 << 30}, {Src: "stage 2 (b)", Bytes: 1 << 29}}
	b.ReportAllocs()
	for b.Loop() {
		select {
		case p.samples <- p.snap(links, false):
		default:
		}
		<-p.samples
	}
}

// BenchmarkProgressFormat is the writer goroutine's cost per line.
func BenchmarkProgressFormat(b *testing.B) {
	p := &progress{begin: time.Now()}
	prev := snapshot{at: p.begin, pipe: true, links: make([]linkCounters, 2)}
	s := snapshot{at: p.begin.Add(time.Second), pipe: true, links: []linkCounters{{bytes: 1 << 30}, {bytes: 1 << 29}}}
	b.ReportAllocs()
	for b.Loop() {
		if !strings.HasPrefix(p.format(prev, s), "pipeloop") {
			b.Fatal("bad line")
		}
	}
}
