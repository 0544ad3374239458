// Package label formats the names pipeloop gives the things it reports
// on, so that an error, a stats table and a verdict call a stage the same.
package label

import "fmt"

// Stage names stage index (counted from 1) running name, as every message
// names it: "stage 2 (gzip -c)".
func Stage(index int, name string) string {
	return fmt.Sprintf("stage %d (%s)", index, name)
}
