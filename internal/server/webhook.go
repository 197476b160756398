package server

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"strings"
)

// maxSecret bounds a webhook secret file.
const maxSecret = 64 << 10

// Errors of verify. They never contain the secret or the signature.
var (
	ErrNoSignature  = errors.New("no signature header (X-Hub-Signature-256, X-Gitea-Signature, X-Gitlab-Token or X-Signature)")
	ErrBadSignature = errors.New("signature does not match")
)

// The providers, by the header they sign with, in the order checked.
const (
	providerGitHub  = "github"  // X-Hub-Signature-256: sha256=<hex HMAC of the body>
	providerGitea   = "gitea"   // X-Gitea-Signature (Gogs, Forgejo alike): <hex HMAC-SHA256 of the body>
	providerGitLab  = "gitlab"  // X-Gitlab-Token: <the secret itself>
	providerGeneric = "generic" // X-Signature: sha256=<hex> or sha512=<hex> HMAC of the body
)

// verify checks the request's signature against secret, with constant-time
// comparisons. The first signature header present is the one checked.
func verify(h http.Header, body, secret []byte) (string, error) {
	if v := h.Get("X-Hub-Signature-256"); v != "" {
		return providerGitHub, checkHMAC(v, "sha256=", sha256.New, body, secret)
	}
	for _, name := range []string{"X-Gitea-Signature", "X-Forgejo-Signature", "X-Gogs-Signature"} {
		if v := h.Get(name); v != "" {
			return providerGitea, checkHMAC(v, "", sha256.New, body, secret)
		}
	}
	if v := h.Get("X-Gitlab-Token"); v != "" {
		if subtle.ConstantTimeCompare([]byte(v), secret) != 1 {
			return providerGitLab, ErrBadSignature
		}
		return providerGitLab, nil
	}
	if v := h.Get("X-Signature"); v != "" {
		algo, _, _ := strings.Cut(v, "=")
		switch algo {
		case "sha256":
			return providerGeneric, checkHMAC(v, "sha256=", sha256.New, body, secret)
		case "sha512":
			return providerGeneric, checkHMAC(v, "sha512=", sha512.New, body, secret)
		}
		return providerGeneric, fmt.Errorf("%w: X-Signature wants sha256=<hex> or sha512=<hex>", ErrBadSignature)
	}
	return "", ErrNoSignature
}

func checkHMAC(header, prefix string, h func() hash.Hash, body, secret []byte) error {
	sig, ok := strings.CutPrefix(header, prefix)
	if !ok {
		return fmt.Errorf("%w: want %s<hex>", ErrBadSignature, prefix)
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("%w: not hexadecimal", ErrBadSignature)
	}
	mac := hmac.New(h, secret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return ErrBadSignature
	}
	return nil
}

// readSecret reads a secret file, trimmed; an empty one is refused, as it
// would make every signature easy to forge.
// CheckSecretFile reports whether path holds a usable webhook secret, as a
// request would read it, so that the daemon refuses a missing or empty
// file at start instead of answering every webhook 503. The error names
// the file, never its content.
func CheckSecretFile(path string) error {
	_, err := readSecret(path)
	return err
}

func readSecret(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecret+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSecret {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxSecret)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, fmt.Errorf("%s: empty", path)
	}
	return b, nil
}
