//go:build !unix

package git

import (
	"fmt"
	"os"
)

// lockDir opens the lock file; other systems get no advisory lock, so a
// cache directory must not be shared between processes there.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cache lock: %w", err)
	}
	return f, nil
}

func unlockDir(f *os.File) { _ = f.Close() }
