// Package testcert makes self-signed ECDSA certificates for tests: a
// client certificate for an upstream's mTLS, an SSL object's certificate.
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// Options shape the certificate. The zero value is a certificate for
// "test" valid from an hour ago for a day.
type Options struct {
	// CommonName, also the one DNS name when DNSName is set.
	CommonName string
	DNSName    bool
	// ClientAuth adds the client-authentication extended key usage.
	ClientAuth bool
	// NotBefore is the start of validity (default: an hour ago); the
	// certificate is valid for a day from then.
	NotBefore time.Time
}

// New returns a self-signed certificate and its PKCS #8 private key, in
// PEM, failing t on error.
func New(t testing.TB, o Options) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if o.CommonName == "" {
		o.CommonName = "test"
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: o.CommonName},
		NotBefore:    o.NotBefore,
		NotAfter:     o.NotBefore.Add(24 * time.Hour),
	}
	if o.DNSName {
		tmpl.DNSNames = []string{o.CommonName}
	}
	if o.ClientAuth {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}))
}
