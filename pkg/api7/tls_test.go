package api7

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
)

// pki is a test CA and the certificates it signs.
type pki struct {
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPEM  []byte
	serial int64
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "reconciler test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &pki{caCert: cert, caKey: key, caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), serial: 1}
}

// leaf issues a certificate; selfSigned ignores the CA.
func (p *pki) leaf(t *testing.T, dns []string, ips []net.IP, notAfter time.Time, usage x509.ExtKeyUsage, selfSigned bool) (tls.Certificate, []byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial),
		Subject:      pkix.Name{CommonName: "leaf"},
		NotBefore:    time.Now().Add(-48 * time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	parent, signer := p.caCert, any(p.caKey)
	if selfSigned {
		parent, signer = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair, certPEM, keyPEM
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A3: TLS fails closed before any request carrying the token: untrusted,
// wrong host, expired, TLS 1.1 only. A CA bundle makes a private CA valid;
// a client certificate passes mutual TLS.
func TestA3TLS(t *testing.T) {
	p := newPKI(t)
	loopback := []net.IP{net.ParseIP("127.0.0.1")}
	valid, _, _ := p.leaf(t, nil, loopback, time.Now().Add(time.Hour), x509.ExtKeyUsageServerAuth, false)
	wrongHost, _, _ := p.leaf(t, []string{"admin.example.invalid"}, nil, time.Now().Add(time.Hour), x509.ExtKeyUsageServerAuth, false)
	expired, _, _ := p.leaf(t, nil, loopback, time.Now().Add(-time.Hour), x509.ExtKeyUsageServerAuth, false)
	selfSigned, _, _ := p.leaf(t, nil, loopback, time.Now().Add(time.Hour), x509.ExtKeyUsageServerAuth, true)
	_, clientCert, clientKey := p.leaf(t, []string{"reconciler"}, nil, time.Now().Add(time.Hour), x509.ExtKeyUsageClientAuth, false)
	caFile := writeFile(t, "ca.pem", p.caPEM)
	certFile := writeFile(t, "client.pem", clientCert)
	keyFile := writeFile(t, "client.key", clientKey)
	pool := x509.NewCertPool()
	pool.AddCert(p.caCert)

	tests := []struct {
		name   string
		server *tls.Config
		tls    TLSConfig
		ok     bool
	}{
		{"untrusted self-signed", &tls.Config{Certificates: []tls.Certificate{selfSigned}}, TLSConfig{}, false},
		{"private CA without the bundle", &tls.Config{Certificates: []tls.Certificate{valid}}, TLSConfig{}, false},
		{"wrong host", &tls.Config{Certificates: []tls.Certificate{wrongHost}}, TLSConfig{CAFile: caFile}, false},
		{"expired", &tls.Config{Certificates: []tls.Certificate{expired}}, TLSConfig{CAFile: caFile}, false},
		{"TLS 1.1 only", &tls.Config{Certificates: []tls.Certificate{valid}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, TLSConfig{CAFile: caFile}, false},
		{"mutual TLS without a client certificate", &tls.Config{Certificates: []tls.Certificate{valid}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}, TLSConfig{CAFile: caFile}, false},
		{"CA bundle", &tls.Config{Certificates: []tls.Certificate{valid}}, TLSConfig{CAFile: caFile}, true},
		{"mutual TLS", &tls.Config{Certificates: []tls.Certificate{valid}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}, TLSConfig{CAFile: caFile, CertFile: certFile, KeyFile: keyFile}, true},
		{"skip-verify, when asked", &tls.Config{Certificates: []tls.Certificate{selfSigned}}, TLSConfig{SkipVerify: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			em, err := emulator.New(emulator.WithAdminToken(canary))
			if err != nil {
				t.Fatal(err)
			}
			var reached atomic.Int64
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reached.Add(1)
				em.ServeHTTP(w, r)
			}))
			srv.TLS = tt.server
			srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are the point
			srv.StartTLS()
			defer srv.Close()
			defer em.Close()
			var ac attemptCounter
			logs := &syncBuffer{}
			c := newClient(t, Config{Server: srv.URL, TLS: tt.tls, Retry: fastRetry, Logger: debugLogger(logs), Hooks: Hooks{Request: ac.hook}})
			_, err = c.List(ctxFor(t, 10*time.Second))
			if tt.ok {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				if tt.tls.SkipVerify && !strings.Contains(logs.String(), "verification") {
					t.Error("skip-verify did not log a warning")
				}
				return
			}
			if err == nil {
				t.Fatal("want a TLS failure")
			}
			if n := reached.Load(); n != 0 {
				t.Errorf("%d requests reached the server", n)
			}
			var re *RequestError
			if !errors.As(err, &re) {
				t.Fatalf("got %#v, want a RequestError", err)
			}
			if re.Retryable() || ac.maxAttempt.Load() != 0 {
				t.Errorf("a certificate failure was retried (%v)", err)
			}
			noLeakErr(t, err)
		})
	}
}

func TestTLSConfigErrors(t *testing.T) {
	bad := writeFile(t, "bad.pem", []byte("not a certificate"))
	for name, cfg := range map[string]TLSConfig{
		"missing CA file":      {CAFile: filepath.Join(t.TempDir(), "nope.pem")},
		"CA file without PEM":  {CAFile: bad},
		"cert without key":     {CertFile: bad},
		"unreadable key pair":  {CertFile: bad, KeyFile: bad},
		"skip-verify and a CA": {SkipVerify: true, CAFile: bad},
	} {
		if _, err := New(Config{Server: "https://127.0.0.1:1", Token: canarySecret(), TLS: cfg}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
