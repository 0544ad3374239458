//go:build linux

package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/pipeloop/pipeloop/internal/label"
)

// A flag written after a STAGE is a STAGE to the flag package, which stops
// at the first non-flag argument: `pipeloop cat --stats` would run a
// command named --stats and fail with "command not found". misplacedFlag
// turns that into a usage error saying where flags go. A STAGE that really
// is such a command stays possible after "--", which ends the flags:
// `pipeloop -- cat --stats`.

// usageHint is a usage error whose message already says what to run
// instead, so no "(try --help)" follows it.
type usageHint struct{ msg string }

func (e usageHint) Error() string { return e.msg }

// misplacedFlag returns a usageHint when a STAGE after the first is a flag
// fs knows (--name or --name=value, one dash or two), unless the STAGEs
// follow "--". It is called after fs parsed args successfully.
func misplacedFlag(fs *flag.FlagSet, args []string) error {
	if endedByDashes(fs, args) {
		return nil
	}
	for i, s := range fs.Args() {
		name, ok := flagName(s)
		if !ok || !knownFlag(fs, name) {
			continue
		}
		return usageHint{fmt.Sprintf("%s is a flag: flags go before the STAGEs (%s %s STAGE...); "+
			"to run a command named %s, put -- before the STAGEs", label.Stage(i+1, s), fs.Name(), s, s)}
	}
	return nil
}

// helpStage returns a usageHint when the only STAGE is the word help
// (`pipeloop help`), unless it follows "--" (`pipeloop -- help` runs it).
func helpStage(fs *flag.FlagSet, args []string) error {
	if fs.NArg() != 1 || fs.Arg(0) != "help" || endedByDashes(fs, args) {
		return nil
	}
	return usageHint{fmt.Sprintf("%s is not a command here: %s --help prints the usage; "+
		"%s -- help runs a command named help", label.Stage(1, "help"), fs.Name(), fs.Name())}
}

// endedByDashes reports whether fs stopped parsing args at a "--" (which
// it drops) rather than at the first non-flag argument. It walks the
// flags as the flag package does, so "--" given as a flag's value
// (--stats-json --) is not taken for the end of the flags.
func endedByDashes(fs *flag.FlagSet, args []string) bool {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return true
		}
		name, ok := flagName(a)
		if !ok {
			return false
		}
		if !strings.Contains(a, "=") && !isBoolFlag(fs, name) {
			i++ // the next argument is the value
		}
	}
	return false
}

// flagName returns the name in -name, --name or --name=value.
func flagName(s string) (string, bool) {
	if len(s) < 2 || s[0] != '-' || s == "--" {
		return "", false
	}
	name := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "-")
	name, _, _ = strings.Cut(name, "=")
	return name, name != "" && name[0] != '-'
}

// knownFlag reports whether fs defines name; -h and --help always are.
func knownFlag(fs *flag.FlagSet, name string) bool {
	return name == "h" || name == "help" || fs.Lookup(name) != nil
}

// isBoolFlag reports whether fs's flag name takes no value.
func isBoolFlag(fs *flag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	if f == nil {
		return true // -h, --help
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
