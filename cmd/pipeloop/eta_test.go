//go:build linux

package main

import (
	"testing"
	"time"
)

func TestETAText(t *testing.T) {
	for _, tc := range []struct {
		done, total int64
		elapsed     time.Duration
		final       bool
		want        string
	}{
		{0, 100, time.Second, false, "0%"},
		{25, 100, time.Second, false, "25% ETA 0:03"},
		{50, 100, 1500 * time.Millisecond, false, "50% ETA 0:02"}, // 1.5 s left, rounded up
		{99, 100, 99 * time.Second, false, "99% ETA 0:01"},
		{100, 100, time.Second, false, "100% ETA 0:00"},
		{120, 100, time.Second, false, "100% ETA 0:00"}, // the file grew
		{60, 100, time.Hour, true, "60%"},
		{1, 100, time.Minute, false, "1% ETA 1:39:00"},
	} {
		if got := etaText(tc.done, tc.total, tc.elapsed, tc.final); got != tc.want {
			t.Errorf("etaText(%d, %d, %v, %v) = %q, want %q", tc.done, tc.total, tc.elapsed, tc.final, got, tc.want)
		}
	}
}
