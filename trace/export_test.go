package trace

// Internals exported for the external trace_test package.
var (
	FmtDur       = fmtDur
	Sparkline    = sparkline
	ParseRelease = parseRelease
	MaxProcesses = maxProcesses
)
