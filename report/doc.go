// Package report is the machine-readable form of pipeloop's statistics
// (pipeloop --stats-json): the schema types, their JSON encoding, and New,
// which builds a Report from what the relay and the loop counted and adds
// the bottleneck verdict.
//
// # Schema
//
// The encoding is versioned by the top-level "schema" and "schema_version"
// fields. Within one version fields are only ever added, never removed,
// renamed or given a new meaning, so a consumer should ignore fields it does
// not know; anything else bumps SchemaVersion. Durations are integer
// nanoseconds in fields ending in _ns, sizes are bytes, fractions are shares
// of the object's own wall time (1 is all of it, or one full core for CPU),
// times are RFC 3339. Lists are never null. Optional fields are omitted when
// absent: "stalls" (present only with --trace), and "error", "signal",
// "start_error" when there is none.
//
// Besides what the relay counted, a report holds pipeloop's own CPU time
// (the loop thread's, which is the serial part) and how busy the machine's
// CPUs were over the run, because both change what a stage's CPU share
// means.
//
// README.md documents every field with an example; test/statsjson_test.go
// decodes real output into these types with unknown fields disallowed.
package report
