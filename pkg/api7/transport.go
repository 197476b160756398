package api7

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// newHTTPClient builds the one http.Client of a Client: TLS verified unless
// asked otherwise, redirects refused, a keep-alive pool sized to the
// concurrency. Timeouts are per attempt, through the request's context.
func newHTTPClient(cfg Config) (*http.Client, error) {
	tlsCfg, err := tlsConfig(cfg.TLS)
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: min(cfg.Timeout, 30*time.Second), KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 nil, // no proxy from the environment: the token goes to the server only
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   min(cfg.Timeout, 10*time.Second),
		MaxIdleConns:          cfg.Concurrency * 2,
		MaxIdleConnsPerHost:   cfg.Concurrency * 2,
		MaxConnsPerHost:       0,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: cfg.Timeout,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport: tr,
		// Go would follow a redirect with X-API-KEY (and the cookie) to
		// whatever host the Location names. Never follow one.
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			return fmt.Errorf("%w to %s://%s", ErrUnexpectedRedirect, req.URL.Scheme, req.URL.Host)
		},
	}, nil
}

// tlsConfig builds the client TLS configuration: TLS 1.2 or later, the CA
// bundle (or the system pool), an optional client certificate.
func tlsConfig(c TLSConfig) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: c.SkipVerify, //nolint:gosec // only when the operator asks, with a warning
		ServerName:         c.ServerName,
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CA bundle: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA bundle %s: no PEM certificate found", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			// The error of LoadX509KeyPair names files, never key material.
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if c.SkipVerify && c.CAFile != "" {
		return nil, errors.New("a CA bundle and skip-verify together make no sense: choose one")
	}
	return cfg, nil
}
