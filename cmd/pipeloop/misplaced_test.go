package main

import (
	"errors"
	"testing"
)

// TestEndedByDashes: "--" ends the flags only where the flag package takes
// it as the end, not as a flag's value.
func TestEndedByDashes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"cat", "--stats"}, false},
		{[]string{"--", "cat", "--stats"}, true},
		{[]string{"--stats", "--", "cat", "--stats"}, true},
		{[]string{"--stats-json", "--", "cat", "--stats"}, false},
		{[]string{"--stats-json=x", "--", "cat", "--stats"}, true},
		{[]string{"--buffer", "1M", "--", "help"}, true},
		{[]string{"--vmsplice=false", "--", "help"}, true},
	} {
		_, err := parseFlags(tc.args)
		var h usageHint
		if got := !errors.As(err, &h); got != tc.want {
			t.Errorf("parseFlags(%q): %v; want ended by dashes %v", tc.args, err, tc.want)
		}
	}
}
