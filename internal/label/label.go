// Package label formats the names pipeloop gives the things it reports
// on, so that an error, a stats table and a verdict call a stage the same
// and write a byte count the same.
package label

import "fmt"

// Stage names stage index (counted from 1) running name, as every message
// names it: "stage 2 (gzip -c)".
func Stage(index int, name string) string {
	return fmt.Sprintf("stage %d (%s)", index, name)
}

// Bytes writes a byte count in decimal units, as dd reports rates: "2.10 MB".
func Bytes(b float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	i := 0
	for b >= 1000 && i < len(units)-1 {
		b /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", b)
	}
	return fmt.Sprintf("%.2f %s", b, units[i])
}
