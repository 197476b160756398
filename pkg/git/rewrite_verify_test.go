package git

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestForcePushStillVerified (reliability G3: "signature policy still
// applies to the new tip"): with verification on and rewritten history
// followed, a force-push of unrelated history is refused when its tip is
// unsigned or signed by an unknown key — the last good commit stays — and
// followed, reported as a rewrite, when a trusted key signed it.
func TestForcePushStillVerified(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	trusted := signer{sshKey: sshKeygen(t, dir, "trusted", "ed25519")}
	other := signer{sshKey: sshKeygen(t, dir, "other", "ed25519")}
	v := Verification{Mode: VerifyHead, SSHAllowedSignersFile: writeFile(t, filepath.Join(dir, "allowed"), trusted.trusts(t))}
	repo := newTestRepo(t, t.TempDir(), "rewrite")
	first := repo.commitFiles("first", map[string]string{"adc.yaml": "a: 1\n"})
	good := repo.signedCommit(t, first, trusted)
	repo.bareGit("update-ref", "refs/heads/main", good)
	src := newSource(t, Options{URL: repo.fileURL(), Ref: "main", Verify: v, History: HistoryFollow})
	if r := mustFetch(t, src); r.Commit.Hash != good {
		t.Fatalf("first fetch: %s", r.Commit.Hash)
	}

	repo.git("checkout", "-q", "--orphan", "unrelated")
	unrelated := repo.commitFiles("unrelated history", map[string]string{"adc.yaml": "a: 2\n"})
	for name, tip := range map[string]string{"unsigned": unrelated, "unknown key": repo.signedCommit(t, unrelated, other)} {
		repo.bareGit("update-ref", "refs/heads/main", tip)
		e := fetchErr(t, src, ErrVerification)
		if e.Reason() != "VerificationFailed" || !strings.Contains(e.Error(), tip[:12]) && !strings.Contains(e.Error(), "signed") {
			t.Errorf("%s tip: %v (reason %s)", name, e, e.Reason())
		}
	}
	signed := repo.signedCommit(t, unrelated, trusted)
	repo.bareGit("update-ref", "refs/heads/main", signed)
	r := mustFetch(t, src)
	if r.Commit.Hash != signed || !r.Rewritten {
		t.Errorf("a trusted force-push: commit %s, rewritten %v; want %s, true", r.Commit.Hash, r.Rewritten, signed)
	}
}
