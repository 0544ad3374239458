//go:build linux

package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/pipeloop/pipeloop/internal/cmdline"
	"github.com/pipeloop/pipeloop/relay"
)

// pvFlags are the flags a pv user looks for first (issue 16): a rate
// limit, line counts, a known total for --progress's percentage and ETA,
// and machine-readable progress.
type pvFlags struct {
	rateLimit int64 // --rate-limit: bytes a second per link; 0 = none
	lines     bool  // --lines: count lines on every link
	size      int64 // --size: the input's size for --progress; 0 = a regular file's, or unknown
	// --progress-json: where report.Progress lines go, "-" for stderr
	progressJSON string
}

// register adds the flags to fs.
func (o *pvFlags) register(fs *flag.FlagSet) {
	fs.Var(rateFlag{&o.rateLimit}, "rate-limit", "")
	fs.BoolVar(&o.lines, "lines", false, "")
	fs.Var(size64Flag{&o.size}, "size", "")
	fs.StringVar(&o.progressJSON, "progress-json", "", "")
}

// check rejects combinations the flags cannot serve.
func (o *pvFlags) check(opts *options) error {
	if o.size > 0 && !opts.progress && o.progressJSON == "" {
		return errors.New("--size is the total --progress shows a share of: add --progress or --progress-json")
	}
	if o.lines && opts.mode == relay.ModeSplice {
		return errors.New("--lines counts the bytes it copies, and --mode splice never copies them: use --mode copy or auto")
	}
	return nil
}

// apply sets what the flags ask of the relay.
func (o *pvFlags) apply(ro *relay.Options) {
	ro.RateLimit = o.rateLimit
	ro.CountLines = o.lines
}

// size64Flag parses a byte count of any size: 300M, 2G, 1000000.
type size64Flag struct{ v *int64 }

func (f size64Flag) String() string { return "" }
func (f size64Flag) Set(s string) error {
	n, err := cmdline.ParseSize(s)
	if err != nil {
		return err
	}
	*f.v = n
	return nil
}

// rateFlag parses a rate in bytes a second: 65536, 64K, 10M, 1G, with an
// optional "/s".
type rateFlag struct{ v *int64 }

func (f rateFlag) String() string { return "" }
func (f rateFlag) Set(s string) error {
	n, err := parseRate(s)
	if err != nil {
		return err
	}
	*f.v = n
	return nil
}

// parseRate parses --rate-limit's RATE; 0 means no limit.
func parseRate(s string) (int64, error) {
	if len(s) > 2 && s[len(s)-2:] == "/s" {
		s = s[:len(s)-2]
	}
	n, err := cmdline.ParseSize(s)
	if err != nil {
		return 0, err
	}
	if n > 1<<40 {
		return 0, fmt.Errorf("%s is more than 1T a second", s)
	}
	if n < 0 {
		return 0, errors.New("a rate must not be negative")
	}
	return n, nil
}
