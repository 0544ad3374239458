package report

import (
	"encoding/json"
	"io"
	"time"
)

// ProgressSchema names the format of --progress-json's lines;
// ProgressSchemaVersion is its version, versioned as Schema is (see the
// package doc).
const (
	ProgressSchema        = "pipeloop-progress"
	ProgressSchemaVersion = 1
)

// Progress is one --progress-json line: where a running pipeloop stands
// at one tick (about once a second), and a last one with Final set as it
// ends. Rates and fractions are over the interval since the previous
// line (on the final line, over the whole run).
type Progress struct {
	Schema        string    `json:"schema"`         // always ProgressSchema
	SchemaVersion int       `json:"schema_version"` // always ProgressSchemaVersion
	Time          time.Time `json:"time"`
	ElapsedNS     int64     `json:"elapsed_ns"` // since pipeloop started
	Final         bool      `json:"final"`      // the last line: the run is over
	// The input's progress, when its total is known (stdin a regular
	// file, or --size): bytes done of total, their share, and the time
	// left at the average rate so far (absent on the final line).
	DoneBytes  *int64         `json:"done_bytes,omitempty"`
	TotalBytes *int64         `json:"total_bytes,omitempty"`
	Fraction   *float64       `json:"fraction,omitempty"`
	ETANS      *int64         `json:"eta_ns,omitempty"`
	Links      []ProgressLink `json:"links"` // in order, as in the stats report
}

// ProgressLink is one link's reading.
type ProgressLink struct {
	Index         int     `json:"index"` // 1-based
	From          string  `json:"from"`
	To            string  `json:"to"`
	Bytes         uint64  `json:"bytes"`                 // delivered so far
	RateBPS       float64 `json:"rate_bytes_per_second"` // over the interval
	FullFraction  float64 `json:"full_fraction"`         // of the interval, holding data the sink would not take
	EmptyFraction float64 `json:"empty_fraction"`        // of the interval, waiting on the source
	// With --rate-limit: of the interval, held back by the limit.
	LimitedFraction float64 `json:"limited_fraction,omitempty"`
	// With --lines only: lines delivered so far, and their rate.
	Lines          *uint64  `json:"lines,omitempty"`
	LinesPerSecond *float64 `json:"lines_per_second,omitempty"`
}

// WriteLine writes p as one line of compact JSON.
func (p *Progress) WriteLine(w io.Writer) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
