package git

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"golang.org/x/crypto/ssh"
)

// signer signs payloads for the test matrix: a PGP entity, or an SSH key
// used through git's own ssh signing (ssh-keygen -Y sign).
type signer struct {
	pgp    *openpgp.Entity
	sshKey string // private key file
}

func newPGPSigner(t testing.TB, cfg *packet.Config) signer {
	t.Helper()
	e, err := openpgp.NewEntity("Release Bot", "", "bot@example.com", cfg)
	if err != nil {
		t.Fatalf("generate PGP key: %v", err)
	}
	return signer{pgp: e}
}

// sign returns an armored detached signature of payload.
func (s signer) sign(t testing.TB, payload []byte) string {
	t.Helper()
	if s.pgp != nil {
		var b bytes.Buffer
		if err := openpgp.ArmoredDetachSign(&b, s.pgp, bytes.NewReader(payload), nil); err != nil {
			t.Fatal(err)
		}
		return b.String() + "\n"
	}
	cmd := exec.Command("ssh-keygen", "-Y", "sign", "-n", "git", "-f", s.sshKey)
	cmd.Stdin = bytes.NewReader(payload)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ssh-keygen -Y sign: %v", err)
	}
	return string(out)
}

// trusts returns the line of trust material for the signer: an armored
// public key block or an allowed-signers line.
func (s signer) trusts(t testing.TB) string {
	t.Helper()
	if s.pgp != nil {
		var b bytes.Buffer
		w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.pgp.Serialize(w); err != nil {
			t.Fatal(err)
		}
		w.Close()
		return b.String() + "\n"
	}
	return `bot@example.com namespaces="git" ` + readFile(t, s.sshKey+".pub")
}

// signedCommit writes a copy of commit, signed, as git writes signatures
// (a gpgsig header), and returns its hash.
func (r *testRepo) signedCommit(t testing.TB, commit string, s signer) string {
	t.Helper()
	raw := []byte(r.bareGit("cat-file", "commit", commit) + "\n")
	head, body, _ := bytes.Cut(raw, []byte("\n\n"))
	sig := s.sign(t, raw)
	signed := string(head) + "\ngpgsig " + strings.ReplaceAll(strings.TrimSuffix(sig, "\n"), "\n", "\n ") + "\n\n" + string(body)
	return r.hashObject("commit", []byte(signed))
}

// signedTag writes an annotated tag of commit, signed when s is not nil.
func (r *testRepo) signedTag(t testing.TB, name, commit string, s *signer) {
	t.Helper()
	payload := fmt.Sprintf("object %s\ntype commit\ntag %s\ntagger Tagger <tagger@example.com> %d +0000\n\nrelease %s\n",
		commit, name, time.Now().Unix(), name)
	if s != nil {
		payload += s.sign(t, []byte(payload))
	}
	h := r.hashObject("tag", []byte(payload))
	r.bareGit("update-ref", "refs/tags/"+name, h)
}

// tampered rewrites an object's message, keeping its signature.
func (r *testRepo) tampered(t testing.TB, typ, hash string) string {
	t.Helper()
	raw := r.bareGit("cat-file", typ, hash) + "\n"
	changed := strings.Replace(raw, "\n\n", "\n\nnot what was signed: ", 1)
	if changed == raw {
		t.Fatal("nothing to tamper with")
	}
	return r.hashObject(typ, []byte(changed))
}

// TestG4Verification runs the signature matrix: PGP and SSH keys of each
// algorithm; good, unsigned, unknown-key and tampered commits and tags;
// modes head, tag and tag-and-head.
func TestG4Verification(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sshSigner := func(typ, name string) signer { return signer{sshKey: sshKeygen(t, dir, name, typ)} }
	type keyCase struct {
		name           string
		trusted, other signer
	}
	keys := []keyCase{
		{"pgp-rsa", newPGPSigner(t, &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 2048}),
			newPGPSigner(t, &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 2048})},
		{"pgp-ecdsa", newPGPSigner(t, &packet.Config{Algorithm: packet.PubKeyAlgoECDSA, Curve: packet.CurveNistP256}),
			newPGPSigner(t, &packet.Config{Algorithm: packet.PubKeyAlgoECDSA, Curve: packet.CurveNistP256})},
		{"pgp-ed25519", newPGPSigner(t, &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519}),
			newPGPSigner(t, &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519})},
		{"ssh-rsa", sshSigner("rsa", "rsa-trusted"), sshSigner("rsa", "rsa-other")},
		{"ssh-ecdsa", sshSigner("ecdsa", "ecdsa-trusted"), sshSigner("ecdsa", "ecdsa-other")},
		{"ssh-ed25519", sshSigner("ed25519", "ed-trusted"), sshSigner("ed25519", "ed-other")},
	}
	var keyring, allowed strings.Builder
	for _, k := range keys {
		if k.trusted.pgp != nil {
			keyring.WriteString(k.trusted.trusts(t))
		} else {
			allowed.WriteString(k.trusted.trusts(t))
		}
	}
	verify := Verification{
		PGPKeyringFile:        writeFile(t, filepath.Join(dir, "keyring.asc"), keyring.String()),
		SSHAllowedSignersFile: writeFile(t, filepath.Join(dir, "allowed_signers"), allowed.String()),
	}

	for _, k := range keys {
		t.Run(k.name, func(t *testing.T) {
			root := t.TempDir()
			repo := newTestRepo(t, root, "signed")
			plain := repo.commitFiles("desired state", map[string]string{"adc.yaml": "a: 1\n"})
			good := repo.signedCommit(t, plain, k.trusted)
			unknown := repo.signedCommit(t, plain, k.other)
			tamperedCommit := repo.tampered(t, "commit", good)
			for branch, h := range map[string]string{"good": good, "unsigned": plain, "unknown": unknown, "tampered": tamperedCommit, "tagonly": plain} {
				repo.bareGit("update-ref", "refs/heads/"+branch, h)
			}
			repo.signedTag(t, "good-tag", good, &k.trusted)
			repo.signedTag(t, "unsigned-tag", plain, nil)
			repo.signedTag(t, "unknown-tag", unknown, &k.other)
			repo.signedTag(t, "tampered-tag", good, &k.trusted)
			repo.bareGit("update-ref", "refs/tags/tampered-tag", repo.tampered(t, "tag", repo.bareGit("rev-parse", "refs/tags/tampered-tag")))
			repo.signedTag(t, "tagonly-tag", plain, &k.trusted)

			for _, c := range []struct {
				name                  string
				head, tag, tagAndHead bool   // should pass
				why                   string // in the error, when it fails
			}{
				{"good", true, true, true, ""},
				{"unsigned", false, false, false, "is not signed"},
				{"unknown", false, false, false, "unknown entity|not an allowed signer"},
				{"tampered", false, false, false, "verification failure|did not verify|verification error"},
				{"tagonly", false, true, false, "is not signed"},
			} {
				for _, m := range []struct {
					mode VerifyMode
					ref  string
					pass bool
				}{
					{VerifyHead, c.name, c.head},
					{VerifyTag, c.name + "-tag", c.tag},
					{VerifyTagAndHead, c.name + "-tag", c.tagAndHead},
				} {
					v := verify
					v.Mode = m.mode
					src := newSource(t, Options{URL: repo.fileURL(), Ref: m.ref, Verify: v})
					if m.pass {
						r := mustFetch(t, src)
						sigs := r.Commit.Signatures
						if len(sigs) == 0 || sigs[0].Format != k.name[:3] || sigs[0].Key == "" {
							t.Errorf("%s %s: signatures %+v", c.name, m.mode, sigs)
						}
						continue
					}
					e := fetchErr(t, src, ErrVerification)
					if e.Reason() != "VerificationFailed" || !containsAny(e.Error(), c.why) {
						t.Errorf("%s %s: %v (reason %s), want %q", c.name, m.mode, e, e.Reason(), c.why)
					}
				}
			}
		})
	}
}

// TestVerificationKeepsLastGood: an unverified commit is refused again on
// every poll, at no transfer cost, and the Source goes back to its last
// good commit when the branch does.
func TestVerificationKeepsLastGood(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := signer{sshKey: sshKeygen(t, dir, "k", "ed25519")}
	v := Verification{Mode: VerifyHead, SSHAllowedSignersFile: writeFile(t, filepath.Join(dir, "allowed"), s.trusts(t))}
	root := t.TempDir()
	repo := newTestRepo(t, root, "lastgood")
	// git signs this one itself, with gpg.format=ssh.
	repo.write(map[string]string{"adc.yaml": "a: 1\n"})
	repo.git("add", "-A")
	repo.git("-c", "gpg.format=ssh", "-c", "user.signingkey="+s.sshKey, "commit", "-q", "-S", "-m", "signed by git")
	repo.git("push", "-q", "origin", "HEAD:main")
	good := repo.git("rev-parse", "HEAD")
	src := newSource(t, Options{URL: repo.fileURL(), Verify: v})
	r := mustFetch(t, src)
	if r.Commit.Hash != good || len(r.Commit.Signatures) != 1 || r.Commit.Signatures[0].Signer != "bot@example.com" {
		t.Fatalf("commit %s signatures %+v", r.Commit.Hash, r.Commit.Signatures)
	}

	repo.commitFiles("unsigned", map[string]string{"adc.yaml": "a: 2\n"})
	if e := fetchErr(t, src, ErrVerification); !strings.Contains(e.Error(), "is not signed") {
		t.Errorf("%v", e)
	}
	ctx := t.Context()
	_, err := src.Fetch(ctx)
	var e *Error
	if !errors.As(err, &e) || e.Class != ErrVerification {
		t.Fatalf("second poll: %v", err)
	}

	repo.git("reset", "-q", "--hard", good)
	repo.git("push", "-q", "-f", "origin", "HEAD:main")
	r = mustFetch(t, src)
	if !r.Unchanged || r.Commit.Hash != good {
		t.Errorf("back to good: unchanged=%v commit=%s", r.Unchanged, r.Commit.Hash)
	}

	t.Run("tag mode on a branch", func(t *testing.T) {
		v := v
		v.Mode = VerifyTag
		e := fetchErr(t, newSource(t, Options{URL: repo.fileURL(), Verify: v}), ErrVerification)
		if !strings.Contains(e.Error(), "needs an annotated tag") {
			t.Errorf("%v", e)
		}
	})
	t.Run("git tag -s", func(t *testing.T) {
		repo.git("-c", "gpg.format=ssh", "-c", "user.signingkey="+s.sshKey, "tag", "-s", "v2", "-m", "signed tag")
		repo.git("push", "-q", "origin", "v2")
		v := v
		v.Mode = VerifyTagAndHead
		r := mustFetch(t, newSource(t, Options{URL: repo.fileURL(), Ref: "v2", Verify: v}))
		if len(r.Commit.Signatures) != 2 || r.Commit.Signatures[0].Object != "tag v2" {
			t.Errorf("signatures %+v", r.Commit.Signatures)
		}
	})
	t.Run("key removed from the file", func(t *testing.T) {
		// The allowed-signers file is read on each verification.
		other := signer{sshKey: sshKeygen(t, dir, "other", "ed25519")}
		writeFile(t, v.SSHAllowedSignersFile, other.trusts(t))
		// Even the commit already fetched is checked again on a poll.
		if e := fetchErr(t, src, ErrVerification); !strings.Contains(e.Error(), "not an allowed signer") {
			t.Errorf("unchanged poll after the key was removed: %v", e)
		}
		repo.commitFiles("signed later", map[string]string{"adc.yaml": "a: 3\n"})
		tip := repo.git("rev-parse", "HEAD")
		repo.bareGit("update-ref", "refs/heads/main", repo.signedCommit(t, tip, s))
		if e := fetchErr(t, src, ErrVerification); !strings.Contains(e.Error(), "not an allowed signer") {
			t.Errorf("%v", e)
		}
	})
}

func TestSplitSignatures(t *testing.T) {
	t.Parallel()
	commit := "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n" +
		"author A <a@x> 1 +0000\ncommitter C <c@x> 2 +0000\n" +
		"gpgsig -----BEGIN SSH SIGNATURE-----\n AAAA\n \n BBBB\n -----END SSH SIGNATURE-----\n" +
		"\nmessage\n\nbody\n"
	payload, sig, err := splitCommitSignature([]byte(commit))
	if err != nil {
		t.Fatal(err)
	}
	wantPayload := "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@x> 1 +0000\ncommitter C <c@x> 2 +0000\n\nmessage\n\nbody\n"
	if string(payload) != wantPayload {
		t.Errorf("payload %q", payload)
	}
	if sig != "-----BEGIN SSH SIGNATURE-----\nAAAA\n\nBBBB\n-----END SSH SIGNATURE-----\n" {
		t.Errorf("signature %q", sig)
	}
	if p, s, _ := splitCommitSignature([]byte("tree x\n\nmsg\n")); string(p) != "tree x\n\nmsg\n" || s != "" {
		t.Errorf("unsigned: %q %q", p, s)
	}
	double := strings.Replace(commit, "\n\nmessage", "\ngpgsig -----BEGIN PGP SIGNATURE-----\n x\n\nmessage", 1)
	if _, _, err := splitCommitSignature([]byte(double)); err == nil {
		t.Error("two signatures accepted")
	}

	tag := "object 1\ntype commit\ntag v1\ntagger T <t@x> 1 +0000\n\nmsg\n-----BEGIN PGP SIGNATURE-----\nx\n-----END PGP SIGNATURE-----\n"
	p, s, err := splitTagSignature([]byte(tag))
	if err != nil || string(p) != "object 1\ntype commit\ntag v1\ntagger T <t@x> 1 +0000\n\nmsg\n" || !strings.HasPrefix(s, "-----BEGIN PGP") {
		t.Errorf("tag: %q %q %v", p, s, err)
	}
	if _, _, err := splitTagSignature([]byte(tag + "-----BEGIN SSH SIGNATURE-----\n")); err == nil {
		t.Error("two tag signatures accepted")
	}
}

func TestParseAllowedSigners(t *testing.T) {
	t.Parallel()
	key := strings.TrimSpace(readFile(t, sshKeygen(t, t.TempDir(), "k", "ed25519")+".pub"))
	when := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name, text string
		wantErr    string
		allows     bool
	}{
		{"plain", "alice@example.com " + key, "", true},
		{"comment and blank lines", "# signers\n\nalice@example.com " + key + "\n", "", true},
		{"quoted principals", `"alice@example.com,bob@example.com" ` + key, "", true},
		{"namespaces git", `alice namespaces="file,git" ` + key, "", true},
		{"namespaces other", `alice namespaces="file" ` + key, "", false},
		{"valid window", `alice valid-after="20250101",valid-before="20260101Z" ` + key, "", true},
		{"expired", `alice valid-before="20250101Z" ` + key, "", false},
		{"not yet", `alice valid-after="202601010000Z" ` + key, "", false},
		{"cert authority", `alice cert-authority ` + key, "cert-authority", false},
		{"unknown option", `alice no-touch-required ` + key, "unsupported option", false},
		{"bad time", `alice valid-after="2025" ` + key, "invalid time", false},
		{"no key", "alice", "want principals, then a key", false},
		{"bad key", "alice ssh-ed25519 AAAA", "parse key", false},
		{"empty", "# nothing\n", "no allowed signer", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAllowedSigners([]byte(tt.text))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if allowed := got[0].allows(when) == nil; allowed != tt.allows {
				t.Errorf("allows = %v, want %v", allowed, tt.allows)
			}
		})
	}
}

func FuzzParseAllowedSigners(f *testing.F) {
	f.Add([]byte("alice@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ5rLpO3B0D6hQeU2e0a6Kk5mYk8vS1QzS0cZsP2r1V c\n"))
	f.Add([]byte(`"a b" namespaces="git",valid-after="20200101" ssh-rsa AAAA`))
	f.Add([]byte("# c\n\n\"unterminated"))
	f.Fuzz(func(t *testing.T, data []byte) {
		signers, err := parseAllowedSigners(data)
		if err != nil {
			return
		}
		for _, s := range signers {
			if s.key == nil || s.principals == "" {
				t.Fatalf("accepted an entry without key or principals: %+v", s)
			}
			if _, err := ssh.ParsePublicKey(s.key.Marshal()); err != nil {
				t.Fatalf("accepted key does not round-trip: %v", err)
			}
		}
	})
}

// containsAny reports whether s contains one of the |-separated parts.
func containsAny(s, parts string) bool {
	for _, p := range strings.Split(parts, "|") {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}
