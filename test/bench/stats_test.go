package bench

import (
	"math"
	"testing"
)

func TestStat(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want Stat
	}{
		{"empty", nil, Stat{}},
		{"odd", []float64{3, 1, 2}, Stat{N: 3, Median: 2, Min: 1, Max: 3}},
		{"even", []float64{4, 1, 2, 3}, Stat{N: 4, Median: 2.5, Min: 1, Max: 4}},
		{"nan ignored", []float64{math.NaN(), 5}, Stat{N: 1, Median: 5, Min: 5, Max: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stat(tt.in); got != tt.want {
				t.Errorf("stat(%v) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestVolume(t *testing.T) {
	c := Config{Bytes: 1 << 30, FullVolumeFrom: 16 << 10}
	tests := []struct {
		block int
		want  int64
	}{
		{64 << 10, 1 << 30},
		{16 << 10, 1 << 30},
		{4 << 10, 256 << 20},
		{1 << 10, 64 << 20},
		{3000, (1 << 30 * 3000 / (16 << 10)) / 3000 * 3000}, // whole blocks
	}
	for _, tt := range tests {
		if got := c.volume(tt.block); got != tt.want {
			t.Errorf("volume(%d) = %d, want %d", tt.block, got, tt.want)
		}
	}
}

func TestBestPeerRatio(t *testing.T) {
	roles := map[string]Role{"direct": Baseline, "a": Peer, "b": Peer, "pipeloop": Pipeloop}
	var samples []Sample
	for r, v := range []struct{ a, b, pl float64 }{{1, 2, 3}, {2, 1, 1}} {
		for m, g := range map[string]float64{"direct": 10, "a": v.a, "b": v.b, "pipeloop": v.pl} {
			samples = append(samples, Sample{Method: m, Block: 4096, Round: r, GBps: g, Bytes: 1e9, UserSec: 1})
		}
	}
	got := summarise(samples, roles)[CellKey{"pipeloop", 4096, false}].VsBestPeer
	want := Stat{N: 2, Median: 1, Min: 0.5, Max: 1.5} // 3/2 in round 1, 1/2 in round 2
	if got != want {
		t.Errorf("VsBestPeer = %+v, want %+v", got, want)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "4K": 4096, "64k": 65536, "1M": 1 << 20, "1G": 1 << 30, "2KiB": 2048} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := ParseSize("lots"); err == nil {
		t.Error("ParseSize(lots) succeeded")
	}
}

func TestShQuote(t *testing.T) {
	for in, want := range map[string]string{"dd": "dd", "bs=4096": "bs=4096", "a b": "'a b'", "it's": `'it'\''s'`, "": "''"} {
		if got := shQuote(in); got != want {
			t.Errorf("shQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
