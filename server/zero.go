//go:build linux

package server

import (
	"fmt"
	"os"
)

// zeroErr is the error of a method called on a zero (or nil) value of a
// type that only a constructor makes usable. It wraps os.ErrInvalid, as
// os.File's methods on a nil *File do. A zero value never touches fd 0:
// its fd field is 0 only because Go zeroes it, and fd 0 belongs to the
// process (under inetd or socket activation, a client's socket).
func zeroErr(typ, ctor string) error {
	return fmt.Errorf("server: zero %s (make one with %s): %w", typ, ctor, os.ErrInvalid)
}
