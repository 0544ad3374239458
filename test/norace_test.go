//go:build !race

package test_test

const raceEnabled = false
