package main

import (
	"testing"

	"go.uber.org/goleak"
)

// The verbs start goroutines (the executor's requests, the client's
// listings); none may outlive a command.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
