package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
)

// testCA is a certificate authority for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a leaf certificate for loopback and its key, as PEM.
func (ca *testCA) issue(t *testing.T, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "leaf"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// The TLS flags work end to end, in the one-shot verbs and in the daemon's
// flag mode: --ca-cert trusts the Admin API's CA, --client-cert and
// --client-key present a client certificate, and --tls-skip-verify turns
// server verification off with a warning. Without them the handshake fails.
func TestTLSFlagsReachTheAdminAPI(t *testing.T) {
	serverCA, clientCA := newTestCA(t, "server CA"), newTestCA(t, "client CA")
	srvCert, srvKey := serverCA.issue(t, x509.ExtKeyUsageServerAuth)
	pair, err := tls.X509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	clients := x509.NewCertPool()
	clients.AddCert(clientCA.cert)
	em, err := emulator.New(emulator.WithAdminToken(testToken))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(em)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clients, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(func() { em.Close(); srv.Close() })

	caFile := tempFile(t, "ca.pem", string(serverCA.pem))
	cliCert, cliKey := clientCA.issue(t, x509.ExtKeyUsageClientAuth)
	certFile, keyFile := tempFile(t, "client.pem", string(cliCert)), tempFile(t, "client.key", string(cliKey))
	src := ordersDir(t, oneServiceYAML)
	mtls := []string{"--client-cert", certFile, "--client-key", keyFile}
	env := func(k string) (string, bool) {
		if k == "RECONCILER_TOKEN" {
			return testToken, true
		}
		return "", false
	}
	tests := []struct {
		name string
		args []string
		code int
		want string // in stdout or stderr
	}{
		{"diff without the CA", append([]string{"diff", "--source", src}, mtls...), 1, "certificate"},
		{"diff without a client certificate", []string{"diff", "--source", src, "--ca-cert", caFile}, 1, "certificate"},
		{"diff with the CA and a client certificate", append([]string{"diff", "--source", src, "--ca-cert", caFile}, mtls...), 2, `create service "s1"`},
		{"diff skipping verification", append([]string{"diff", "--source", src, "--tls-skip-verify"}, mtls...), 2, "verification of the Admin API is disabled"},
		{"run with the CA and a client certificate", append([]string{"run", "--once", "--source", src, "--ca-cert", caFile}, mtls...), 0, "2 applied"},
		{"dump with the CA and a client certificate", append([]string{"dump", "--ca-cert", caFile}, mtls...), 0, "name: s1"},
		{"run without the CA", append([]string{"run", "--once", "--source", src, "--timeout", "2s"}, mtls...), 1, "default: failure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			args := append(tt.args, "--server", srv.URL, "--log-level", "warn")
			code := run(ctx, args, streams{in: strings.NewReader(""), out: &out, err: &errb}, env)
			if code != tt.code || !strings.Contains(out.String()+errb.String(), tt.want) {
				t.Fatalf("exit %d, want %d with %q\nstdout: %s\nstderr: %s", code, tt.code, tt.want, out.String(), errb.String())
			}
		})
	}
}
