//go:build race

package test_test

// raceEnabled builds the binary under test with -race when the tests run
// with it, so races in the real program are caught end to end.
const raceEnabled = true
