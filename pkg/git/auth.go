package git

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
)

// Auth names the files that hold credentials and trust material. Every file
// is read again on each Fetch, so that rotating a Kubernetes Secret takes
// effect without a restart. Contents never appear in errors or logs.
type Auth struct {
	// TokenFile holds an HTTPS bearer token (sent as "Authorization: Bearer").
	TokenFile string
	// Username and PasswordFile give HTTPS basic authentication. Username may
	// also come from the URL (https://user@host/…).
	Username     string
	PasswordFile string
	// SSHKeyFile holds a private key in OpenSSH or PEM form;
	// SSHPassphraseFile its passphrase, when it is encrypted.
	SSHKeyFile        string
	SSHPassphraseFile string
	// KnownHostsFile is required for SSH: a host whose key is not in it is
	// refused. There is no "accept any host key" mode.
	KnownHostsFile string
	// CAFile is a PEM bundle of extra certificate authorities trusted for
	// HTTPS, on top of the system's.
	CAFile string
}

// validate checks the combination of options, without reading any file.
func (a Auth) validate(r remote) error {
	if a.TokenFile != "" && a.PasswordFile != "" {
		return errors.New("a bearer token file and a password file are mutually exclusive")
	}
	if a.Username != "" && a.PasswordFile == "" {
		return errors.New("a user name needs a password file")
	}
	switch r.scheme {
	case schemeHTTPS, schemeHTTP:
		if a.SSHKeyFile != "" || a.SSHPassphraseFile != "" || a.KnownHostsFile != "" {
			return fmt.Errorf("SSH key and known_hosts options do not apply to %s URLs", r.scheme)
		}
		if a.Username != "" && r.user != "" && a.Username != r.user {
			return errors.New("the user name is given both in the URL and as an option, with different values")
		}
		if a.CAFile != "" && r.scheme == schemeHTTP {
			return errors.New("a CA bundle applies to https URLs only")
		}
	case schemeSSH:
		if a.TokenFile != "" || a.PasswordFile != "" || a.Username != "" || a.CAFile != "" {
			return errors.New("token, password, user name and CA options do not apply to SSH URLs")
		}
		if a.SSHKeyFile == "" {
			return errors.New("an SSH URL needs a private key file")
		}
		if a.KnownHostsFile == "" {
			return errors.New("an SSH URL needs a known_hosts file: unknown host keys are never accepted")
		}
	case schemeGit, schemeFile:
		if a != (Auth{}) {
			return fmt.Errorf("%s URLs take no credentials", r.scheme)
		}
	}
	if a.SSHPassphraseFile != "" && a.SSHKeyFile == "" {
		return errors.New("an SSH passphrase file needs an SSH key file")
	}
	return nil
}

// credentials is what one fetch authenticates with, read from the files.
type credentials struct {
	http      githttp.AuthMethod // nil: anonymous
	tlsConfig *tls.Config        // nil: system roots
	ssh       *ssh.ClientConfig  // for SSH only; without HostKeyAlgorithms (set per host)
	hostKeys  *knownhosts.HostKeyDB
}

// load reads the credential files. Errors name the file, never its content.
func (a Auth) load(r remote) (credentials, error) {
	var c credentials
	switch r.scheme {
	case schemeHTTPS, schemeHTTP:
		switch {
		case a.TokenFile != "":
			tok, err := readSecretFile(a.TokenFile, "token")
			if err != nil {
				return c, err
			}
			c.http = &githttp.TokenAuth{Token: tok}
		case a.PasswordFile != "":
			pw, err := readSecretFile(a.PasswordFile, "password")
			if err != nil {
				return c, err
			}
			user := a.Username
			if user == "" {
				user = r.user
			}
			if user == "" {
				// Hosting services accept any user name with a token as
				// the password; Git itself sends the URL's user or none.
				user = "git"
			}
			c.http = &githttp.BasicAuth{Username: user, Password: pw}
		}
		if a.CAFile != "" {
			pem, err := os.ReadFile(a.CAFile)
			if err != nil {
				return c, credentialError(fmt.Errorf("read CA bundle: %w", err))
			}
			pool, err := x509.SystemCertPool()
			if err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return c, credentialError(fmt.Errorf("CA bundle %s holds no PEM certificate", a.CAFile))
			}
			c.tlsConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
	case schemeSSH:
		key, err := os.ReadFile(a.SSHKeyFile)
		if err != nil {
			return c, credentialError(fmt.Errorf("read SSH key: %w", err))
		}
		var signer ssh.Signer
		if a.SSHPassphraseFile != "" {
			pass, err := readSecretFile(a.SSHPassphraseFile, "SSH passphrase")
			if err != nil {
				return c, err
			}
			signer, err = ssh.ParsePrivateKeyWithPassphrase(key, []byte(pass))
			if err != nil {
				return c, credentialError(fmt.Errorf("parse SSH key %s: %w", a.SSHKeyFile, redactKeyError(err)))
			}
		} else {
			signer, err = ssh.ParsePrivateKey(key)
			if err != nil {
				var missing *ssh.PassphraseMissingError
				if errors.As(err, &missing) {
					return c, credentialError(fmt.Errorf("SSH key %s is encrypted: give its passphrase file", a.SSHKeyFile))
				}
				return c, credentialError(fmt.Errorf("parse SSH key %s: %w", a.SSHKeyFile, redactKeyError(err)))
			}
		}
		if _, err := os.Stat(a.KnownHostsFile); err != nil {
			return c, credentialError(fmt.Errorf("known_hosts: %w", err))
		}
		db, err := knownhosts.NewDB(a.KnownHostsFile)
		if err != nil {
			return c, credentialError(fmt.Errorf("read known_hosts %s: %w", a.KnownHostsFile, err))
		}
		user := r.user
		if user == "" {
			user = "git"
		}
		c.hostKeys = db
		c.ssh = &ssh.ClientConfig{
			User:            user,
			Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
			HostKeyCallback: db.HostKeyCallback(),
		}
	}
	return c, nil
}

// readSecretFile reads a one-line secret, trimming the trailing newline
// (and surrounding whitespace for tokens, which never contain any). An empty
// file is refused: it usually means a Secret volume is being swapped.
func readSecretFile(path, what string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", credentialError(fmt.Errorf("read %s file: %w", what, err))
	}
	var s string
	if what == "token" {
		s = string(bytes.TrimSpace(b))
	} else {
		s = string(bytes.TrimRight(b, "\r\n"))
	}
	if s == "" || len(bytes.TrimSpace(b)) == 0 {
		return "", credentialError(fmt.Errorf("%s file %s is empty", what, path))
	}
	return s, nil
}

func credentialError(err error) error {
	return &Error{Op: "credentials", Class: ErrAuthentication, Err: err}
}

// redactKeyError keeps x/crypto's key parsing messages, which describe the
// format, never the key; the wrapper exists so that a future change there
// cannot leak key material through us.
func redactKeyError(err error) error {
	const max = 200
	msg := err.Error()
	if len(msg) > max {
		msg = msg[:max]
	}
	return errors.New(msg)
}
