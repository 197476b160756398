package diff_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Compute spreads normalisation over goroutines; none may outlive it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
