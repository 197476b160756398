package git

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// VerifyMode says which signatures a fetched commit must carry.
type VerifyMode string

// The verification modes.
const (
	// VerifyOff checks no signature.
	VerifyOff VerifyMode = ""
	// VerifyHead requires the fetched commit to be signed by a trusted key.
	VerifyHead VerifyMode = "head"
	// VerifyTag requires the ref to be an annotated tag signed by a trusted
	// key.
	VerifyTag VerifyMode = "tag"
	// VerifyTagAndHead requires both.
	VerifyTagAndHead VerifyMode = "tag-and-head"
)

// ParseVerifyMode parses a mode as written on the command line; "" and
// "off" turn verification off.
func ParseVerifyMode(s string) (VerifyMode, error) {
	switch m := VerifyMode(strings.ToLower(strings.TrimSpace(s))); m {
	case VerifyOff, VerifyHead, VerifyTag, VerifyTagAndHead:
		return m, nil
	case "off", "none":
		return VerifyOff, nil
	}
	return VerifyOff, fmt.Errorf("unknown verification mode %q: want head, tag or tag-and-head", s)
}

func (m VerifyMode) head() bool { return m == VerifyHead || m == VerifyTagAndHead }
func (m VerifyMode) tag() bool  { return m == VerifyTag || m == VerifyTagAndHead }

// Verification configures commit signature checks. Both files are read
// again on each verification, so a revoked key takes effect without a
// restart. A signature is accepted when it is valid and made by a key in
// either file, matching its format.
type Verification struct {
	Mode VerifyMode
	// PGPKeyringFile holds armored PGP public keys (one or more blocks).
	PGPKeyringFile string
	// SSHAllowedSignersFile is in ssh-keygen's ALLOWED SIGNERS format:
	// "principals [options] keytype key [comment]" per line; the options
	// namespaces="…" (must include "git"), valid-after and valid-before are
	// honoured, cert-authority lines are refused.
	SSHAllowedSignersFile string
}

func (v Verification) validate() error {
	if _, err := ParseVerifyMode(string(v.Mode)); err != nil {
		return err
	}
	if v.Mode == VerifyOff {
		if v.PGPKeyringFile != "" || v.SSHAllowedSignersFile != "" {
			return errors.New("a PGP keyring or SSH allowed-signers file is given but verification is off: set a verification mode")
		}
		return nil
	}
	if v.PGPKeyringFile == "" && v.SSHAllowedSignersFile == "" {
		return fmt.Errorf("verification mode %q needs a PGP keyring or an SSH allowed-signers file", v.Mode)
	}
	return nil
}

// VerifiedSignature describes one signature that was checked and accepted.
type VerifiedSignature struct {
	Object string // "commit" or "tag"
	Format string // "pgp" or "ssh"
	Key    string // PGP key ID in hex, or SSH key fingerprint (SHA256:…)
	Signer string // PGP primary identity, or the SSH principals that match the key
}

const (
	pgpSignatureStart = "-----BEGIN PGP SIGNATURE-----"
	pgpMessageStart   = "-----BEGIN PGP MESSAGE-----"
	sshSignatureStart = "-----BEGIN SSH SIGNATURE-----"
	x509SignatureLead = "-----BEGIN SIGNED MESSAGE-----"
)

// trust is the key material of one verification, read from the files.
type trust struct {
	pgp     openpgp.EntityList
	signers []allowedSigner
}

func (v Verification) load() (trust, error) {
	var t trust
	if v.PGPKeyringFile != "" {
		data, err := os.ReadFile(v.PGPKeyringFile)
		if err != nil {
			return t, fmt.Errorf("read PGP keyring: %w", err)
		}
		t.pgp, err = parseKeyring(data)
		if err != nil {
			return t, fmt.Errorf("PGP keyring %s: %w", v.PGPKeyringFile, err)
		}
	}
	if v.SSHAllowedSignersFile != "" {
		data, err := os.ReadFile(v.SSHAllowedSignersFile)
		if err != nil {
			return t, fmt.Errorf("read SSH allowed signers: %w", err)
		}
		t.signers, err = parseAllowedSigners(data)
		if err != nil {
			return t, fmt.Errorf("SSH allowed signers %s: %w", v.SSHAllowedSignersFile, err)
		}
	}
	return t, nil
}

// parseKeyring reads every armored public key block of data.
func parseKeyring(data []byte) (openpgp.EntityList, error) {
	const begin = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
	text := string(data)
	var list openpgp.EntityList
	for {
		i := strings.Index(text, begin)
		if i < 0 {
			break
		}
		text = text[i:]
		next := strings.Index(text[len(begin):], begin)
		chunk := text
		if next >= 0 {
			chunk = text[:len(begin)+next]
			text = text[len(begin)+next:]
		} else {
			text = ""
		}
		block, err := armor.Decode(strings.NewReader(chunk))
		if err != nil {
			return nil, fmt.Errorf("decode armor: %w", err)
		}
		el, err := openpgp.ReadKeyRing(block.Body)
		if err != nil {
			return nil, fmt.Errorf("read keys: %w", err)
		}
		list = append(list, el...)
	}
	if len(list) == 0 {
		return nil, errors.New("no armored PGP public key block")
	}
	return list, nil
}

// splitCommitSignature splits a raw commit object into the signed payload
// (the object without its gpgsig header, as Git verifies it) and the
// signature. It returns an empty signature for an unsigned commit.
func splitCommitSignature(raw []byte) (payload []byte, sig string, err error) {
	head, body, ok := bytes.Cut(raw, []byte("\n\n"))
	if !ok {
		head, body = raw, nil
	}
	var out bytes.Buffer
	var sigb strings.Builder
	inSig := false
	count := 0
	for _, line := range bytes.SplitAfter(head, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if inSig && line[0] == ' ' {
			sigb.Write(line[1:])
			continue
		}
		inSig = false
		if bytes.HasPrefix(line, []byte("gpgsig ")) || bytes.HasPrefix(line, []byte("gpgsig-sha256 ")) {
			count++
			inSig = true
			sigb.Write(line[bytes.IndexByte(line, ' ')+1:])
			continue
		}
		out.Write(line)
	}
	if count > 1 {
		return nil, "", errors.New("commit carries more than one signature")
	}
	if ok {
		if out.Len() > 0 && out.Bytes()[out.Len()-1] != '\n' {
			out.WriteByte('\n')
		}
		out.WriteByte('\n')
		out.Write(body)
	}
	s := sigb.String()
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return out.Bytes(), s, nil
}

// splitTagSignature splits a raw tag object into the payload and the
// signature Git appends to the message.
func splitTagSignature(raw []byte) (payload []byte, sig string, err error) {
	starts := 0
	at := -1
	for off := 0; off < len(raw); {
		end := bytes.IndexByte(raw[off:], '\n')
		line := raw[off:]
		if end >= 0 {
			line = raw[off : off+end]
		}
		for _, m := range []string{pgpSignatureStart, pgpMessageStart, sshSignatureStart, x509SignatureLead} {
			if bytes.HasPrefix(line, []byte(m)) {
				starts++
				at = off
			}
		}
		if end < 0 {
			break
		}
		off += end + 1
	}
	if starts == 0 {
		return raw, "", nil
	}
	if starts > 1 {
		return nil, "", errors.New("tag carries more than one signature")
	}
	return raw[:at], string(raw[at:]), nil
}

// check verifies sig over payload with the trusted keys. when is the
// object's date (committer or tagger), for SSH validity windows.
func (t trust) check(object string, payload []byte, sig string, when time.Time) (VerifiedSignature, error) {
	switch {
	case sig == "":
		return VerifiedSignature{}, fmt.Errorf("%s is not signed", object)
	case strings.HasPrefix(sig, pgpSignatureStart), strings.HasPrefix(sig, pgpMessageStart):
		if len(t.pgp) == 0 {
			return VerifiedSignature{}, fmt.Errorf("%s has a PGP signature but no PGP keyring is configured", object)
		}
		block, err := armor.Decode(strings.NewReader(sig))
		if err != nil {
			return VerifiedSignature{}, fmt.Errorf("%s: PGP signature: %w", object, err)
		}
		s, signer, err := openpgp.VerifyDetachedSignature(t.pgp, bytes.NewReader(payload), block.Body, nil)
		if err != nil {
			return VerifiedSignature{}, fmt.Errorf("%s: PGP signature: %w", object, err)
		}
		vs := VerifiedSignature{Object: object, Format: "pgp"}
		switch {
		case s != nil && len(s.IssuerFingerprint) > 0:
			vs.Key = fmt.Sprintf("%X", s.IssuerFingerprint)
		case s != nil && s.IssuerKeyId != nil:
			vs.Key = fmt.Sprintf("%016X", *s.IssuerKeyId)
		}
		if signer != nil {
			if id := signer.PrimaryIdentity(); id != nil {
				vs.Signer = id.Name
			}
		}
		return vs, nil
	case strings.HasPrefix(sig, sshSignatureStart):
		if len(t.signers) == 0 {
			return VerifiedSignature{}, fmt.Errorf("%s has an SSH signature but no SSH allowed-signers file is configured", object)
		}
		s, err := sshsig.Unarmor([]byte(sig))
		if err != nil {
			return VerifiedSignature{}, fmt.Errorf("%s: SSH signature: %w", object, err)
		}
		fp := ssh.FingerprintSHA256(s.PublicKey)
		var principals []string
		var lastErr error
		for _, a := range t.signers {
			if !bytes.Equal(a.key.Marshal(), s.PublicKey.Marshal()) {
				continue
			}
			if err := a.allows(when); err != nil {
				lastErr = err
				continue
			}
			if err := sshsig.Verify(bytes.NewReader(payload), s, a.key, s.HashAlgorithm, "git"); err != nil {
				return VerifiedSignature{}, fmt.Errorf("%s: SSH signature by %s: %w", object, fp, err)
			}
			principals = append(principals, a.principals)
		}
		if len(principals) == 0 {
			if lastErr != nil {
				return VerifiedSignature{}, fmt.Errorf("%s: SSH key %s: %w", object, fp, lastErr)
			}
			return VerifiedSignature{}, fmt.Errorf("%s is signed by SSH key %s, which is not an allowed signer", object, fp)
		}
		return VerifiedSignature{Object: object, Format: "ssh", Key: fp, Signer: strings.Join(principals, ",")}, nil
	case strings.HasPrefix(sig, x509SignatureLead):
		return VerifiedSignature{}, fmt.Errorf("%s has an X.509 (S/MIME) signature, which is not supported", object)
	}
	return VerifiedSignature{}, fmt.Errorf("%s has a signature in an unknown format", object)
}

// allowedSigner is one line of an allowed-signers file.
type allowedSigner struct {
	principals  string
	key         ssh.PublicKey
	namespaces  []string // empty: any
	validAfter  time.Time
	validBefore time.Time
}

// allows checks the line's namespace ("git") and validity window.
func (a allowedSigner) allows(when time.Time) error {
	if len(a.namespaces) > 0 {
		ok := false
		for _, ns := range a.namespaces {
			if ns == "git" || ns == "*" {
				ok = true
			}
		}
		if !ok {
			return errors.New(`allowed only for other namespaces than "git"`)
		}
	}
	if !a.validAfter.IsZero() && when.Before(a.validAfter) {
		return fmt.Errorf("not valid before %s", a.validAfter.Format(time.RFC3339))
	}
	if !a.validBefore.IsZero() && !when.Before(a.validBefore) {
		return fmt.Errorf("not valid after %s", a.validBefore.Format(time.RFC3339))
	}
	return nil
}

// parseAllowedSigners reads ssh-keygen's ALLOWED SIGNERS format. Errors
// name the line.
func parseAllowedSigners(data []byte) ([]allowedSigner, error) {
	var out []allowedSigner
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		a, err := parseAllowedSigner(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no allowed signer")
	}
	return out, nil
}

func parseAllowedSigner(line string) (allowedSigner, error) {
	var a allowedSigner
	var rest string
	if strings.HasPrefix(line, `"`) {
		end := strings.IndexByte(line[1:], '"')
		if end < 0 {
			return a, errors.New("unterminated quoted principals")
		}
		a.principals, rest = line[1:end+1], line[end+2:]
	} else {
		i := strings.IndexAny(line, " \t")
		if i < 0 {
			return a, errors.New("want principals, then a key")
		}
		a.principals, rest = line[:i], line[i:]
	}
	if a.principals == "" {
		return a, errors.New("empty principals")
	}
	key, _, options, _, err := ssh.ParseAuthorizedKey([]byte(strings.TrimSpace(rest)))
	if err != nil {
		return a, fmt.Errorf("parse key: %w", err)
	}
	a.key = key
	for _, o := range options {
		name, value, _ := strings.Cut(o, "=")
		value = strings.Trim(value, `"`)
		switch strings.ToLower(name) {
		case "cert-authority":
			return a, errors.New("cert-authority entries are not supported")
		case "namespaces":
			a.namespaces = strings.Split(value, ",")
		case "valid-after":
			if a.validAfter, err = parseSSHTime(value); err != nil {
				return a, fmt.Errorf("valid-after: %w", err)
			}
		case "valid-before":
			if a.validBefore, err = parseSSHTime(value); err != nil {
				return a, fmt.Errorf("valid-before: %w", err)
			}
		default:
			return a, fmt.Errorf("unsupported option %q", name)
		}
	}
	return a, nil
}

// parseSSHTime parses ssh-keygen's YYYYMMDD[HHMM[SS]][Z] times (local time
// unless Z, as ssh-keygen does; the daemon runs in UTC in practice).
func parseSSHTime(s string) (time.Time, error) {
	loc := time.Local
	if strings.HasSuffix(s, "Z") || strings.HasSuffix(s, "z") {
		loc, s = time.UTC, s[:len(s)-1]
	}
	for _, layout := range []string{"20060102150405", "200601021504", "20060102"} {
		if len(s) == len(layout) {
			return time.ParseInLocation(layout, s, loc)
		}
	}
	return time.Time{}, fmt.Errorf("invalid time %q: want YYYYMMDD[HHMM[SS]][Z]", s)
}
