package main

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs the test binary as the reconciler itself when
// RECONCILER_TEST_MAIN=1 (the daemon's signal tests start it as a
// subprocess). Otherwise it runs the tests with Git made hermetic (no user
// or system configuration) and goleak: the verbs and the daemon start
// goroutines (the executor's requests, the client's listings, the loops);
// none may outlive a command.
func TestMain(m *testing.M) {
	if os.Getenv("RECONCILER_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Setenv("GIT_CONFIG_GLOBAL", "/dev/null")
	os.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	os.Setenv("GIT_AUTHOR_NAME", "Alice Example")
	os.Setenv("GIT_AUTHOR_EMAIL", "alice@example.com")
	os.Setenv("GIT_COMMITTER_NAME", "Alice Example")
	os.Setenv("GIT_COMMITTER_EMAIL", "alice@example.com")
	goleak.VerifyTestMain(m)
}
