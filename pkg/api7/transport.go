package api7

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"
)

// newTransport builds the one transport of a Client: TLS verified unless
// asked otherwise, a keep-alive pool sized to the concurrency, no proxy.
// Timeouts are per attempt, through the request's context. The Client
// calls RoundTrip itself rather than go through an http.Client, so nothing
// follows a redirect: Go's http.Client would send X-API-KEY (and the
// cookie) on to whatever host a Location names; attempt refuses every
// redirect instead (and saves the http.Client's per-request header copies).
func newTransport(cfg Config) (*http.Transport, error) {
	tlsCfg, err := tlsConfig(cfg.TLS)
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: min(cfg.Timeout, 30*time.Second), KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:               nil, // no proxy from the environment: the token goes to the server only
		DialContext:         dialer.DialContext,
		TLSClientConfig:     tlsCfg,
		TLSHandshakeTimeout: min(cfg.Timeout, 10*time.Second),
		MaxIdleConns:        cfg.Concurrency * 2,
		MaxIdleConnsPerHost: cfg.Concurrency * 2,
		// The limiter already holds requests to Concurrency; capping the
		// connections too stops Go's dial race (a request that dialled while
		// an idle connection came back parks the new one) from opening more.
		MaxConnsPerHost:       cfg.Concurrency,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: cfg.Timeout,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}, nil
}

// isRedirect reports a status http.Client would follow.
func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// redirectError names where a redirect pointed, scheme and host only (a
// Location could carry anything in its path or query).
func redirectError(location string) error {
	u, err := url.Parse(location)
	if err != nil || u.Host == "" {
		return ErrUnexpectedRedirect
	}
	return fmt.Errorf("%w to %s://%s", ErrUnexpectedRedirect, u.Scheme, u.Host)
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
