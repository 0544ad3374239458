package fdops_test

import (
	"os"
	"testing"

	"github.com/pipeloop/pipeloop/internal/leakcheck"
)

// TestMain fails the run if the tests leave a file descriptor open or a
// child process unreaped.
func TestMain(m *testing.M) { os.Exit(leakcheck.Main(m)) }
