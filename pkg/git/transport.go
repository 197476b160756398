package git

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"golang.org/x/crypto/ssh"
)

// session is one upload-pack conversation with a server: the reference
// advertisement, then at most one pack request.
type session interface {
	advertise(ctx context.Context) (*packp.AdvRefs, error)
	uploadPack(ctx context.Context, req *packp.UploadPackRequest) (*packp.UploadPackResponse, error)
	Close() error
}

// wireStats counts what crossed the wire in one Fetch.
type wireStats struct {
	advertisements atomic.Int64 // reference advertisements requested
	packRequests   atomic.Int64 // upload-pack requests sent
	bytes          atomic.Int64 // bytes received
}

// dialer opens sessions for one remote with one set of credentials.
type dialer struct {
	remote  remote
	creds   credentials
	maxRecv int64 // bytes one session may receive before it fails with ErrTooLarge
	stats   *wireStats
}

func (d dialer) open(ctx context.Context) (session, error) {
	switch d.remote.scheme {
	case schemeHTTPS, schemeHTTP:
		return d.openHTTP()
	case schemeSSH:
		return d.openSSH(ctx)
	case schemeGit:
		return d.openGitDaemon(ctx)
	case schemeFile:
		return d.openFile(ctx)
	}
	return nil, fmt.Errorf("unsupported scheme %q", d.remote.scheme)
}

// --- smart HTTP, through go-git's client and our own http.Client ---

type httpSession struct {
	s   transport.UploadPackSession
	tr  *http.Transport
	adv *prefixRecorder
}

func (d dialer) openHTTP() (session, error) {
	tlsConf := d.creds.tlsConfig
	if tlsConf == nil {
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSClientConfig:     tlsConf,
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        2,
		IdleConnTimeout:     30 * time.Second,
	}
	adv := &prefixRecorder{}
	client := &http.Client{Transport: &countingTransport{base: tr, max: d.maxRecv, stats: d.stats, adv: adv}}
	t := githttp.NewClientWithOptions(client, &githttp.ClientOptions{RedirectPolicy: githttp.FollowInitialRedirects})
	host := d.remote.host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	ep := &transport.Endpoint{
		Protocol: string(d.remote.scheme),
		Host:     host,
		Port:     d.remote.port,
		Path:     d.remote.path,
	}
	var auth transport.AuthMethod
	if d.creds.http != nil {
		auth = d.creds.http
	}
	s, err := t.NewUploadPackSession(ep, auth)
	if err != nil {
		tr.CloseIdleConnections()
		return nil, err
	}
	return &httpSession{s: s, tr: tr, adv: adv}, nil
}

func (s *httpSession) advertise(ctx context.Context) (*packp.AdvRefs, error) {
	ar, err := s.s.AdvertisedReferencesContext(ctx)
	if err != nil {
		return nil, err
	}
	// go-git drops thin-pack from what the server offers; we can take
	// thin packs (see fetchPack), so restore it when the server offered it.
	if caps, err := firstLineCapabilities(s.adv.bytes()); err == nil && caps.Supports(capability.ThinPack) {
		_ = ar.Capabilities.Set(capability.ThinPack)
	}
	return ar, nil
}

func (s *httpSession) uploadPack(ctx context.Context, req *packp.UploadPackRequest) (*packp.UploadPackResponse, error) {
	return s.s.UploadPack(ctx, req)
}

func (s *httpSession) Close() error {
	err := s.s.Close()
	s.tr.CloseIdleConnections()
	return err
}

// countingTransport counts requests and received bytes, caps the bytes of
// each response body, and keeps the start of the reference advertisement.
type countingTransport struct {
	base  http.RoundTripper
	max   int64
	stats *wireStats
	adv   *prefixRecorder
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	get := req.Method == http.MethodGet
	if get {
		t.stats.advertisements.Add(1)
	} else {
		t.stats.packRequests.Add(1)
	}
	res, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	var r io.Reader = &cappedReader{r: res.Body, max: t.max, stats: t.stats}
	if get {
		t.adv.reset()
		r = io.TeeReader(r, t.adv)
	}
	res.Body = &cappedBody{r: r, c: res.Body}
	return res, nil
}

// prefixRecorder keeps the first bytes written to it.
type prefixRecorder struct {
	mu  sync.Mutex
	buf []byte
}

const advPrefixKeep = 64 << 10

func (p *prefixRecorder) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if room := advPrefixKeep - len(p.buf); room > 0 {
		p.buf = append(p.buf, b[:min(room, len(b))]...)
	}
	return len(b), nil
}

func (p *prefixRecorder) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = p.buf[:0]
}

func (p *prefixRecorder) bytes() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]byte(nil), p.buf...)
}

// firstLineCapabilities reads the capabilities of a reference
// advertisement: they follow a NUL on its first reference line.
func firstLineCapabilities(adv []byte) (*capability.List, error) {
	sc := pktline.NewScanner(bytes.NewReader(adv))
	for sc.Scan() {
		line := sc.Bytes()
		if i := bytes.IndexByte(line, 0); i >= 0 {
			caps := capability.NewList()
			if err := caps.Decode(bytes.TrimRight(line[i+1:], "\n")); err != nil {
				return nil, err
			}
			return caps, nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, errors.New("no capabilities in the advertisement")
}

type cappedBody struct {
	r io.Reader
	c io.Closer
}

func (b *cappedBody) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b *cappedBody) Close() error               { return b.c.Close() }

// cappedReader counts what it reads and fails with ErrTooLarge, for good,
// once more than max bytes came through.
type cappedReader struct {
	r     io.Reader
	n     int64
	max   int64
	stats *wireStats
	err   error
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.stats.bytes.Add(int64(n))
	if c.max > 0 && c.n > c.max {
		c.err = &Error{Op: "fetch", Class: ErrTooLarge, Err: fmt.Errorf("server sent more than %d bytes (the pack size limit)", c.max)}
		return 0, c.err
	}
	return n, err
}

// --- pack protocol over a byte stream: SSH, git://, file:// ---

// streamSession speaks the pack protocol (v0) over a stream: a process's or
// an SSH channel's stdin and stdout, or a git:// TCP connection. A watchdog
// tears the stream down when the context ends, so that no read or write
// outlives the fetch's deadline.
type streamSession struct {
	w       io.WriteCloser
	r       io.Reader
	stderr  *tailBuffer
	wait    func() error // waits for the remote command; nil when there is none
	teardn  func()
	stop    func() bool
	packRun bool
	once    sync.Once
	stats   *wireStats
}

func newStreamSession(ctx context.Context, w io.WriteCloser, r io.Reader, stderr *tailBuffer, wait func() error, teardown func(), d dialer) *streamSession {
	s := &streamSession{
		w:      w,
		r:      &cappedReader{r: r, max: d.maxRecv, stats: d.stats},
		stderr: stderr,
		wait:   wait,
		teardn: teardown,
		stats:  d.stats,
	}
	s.stop = context.AfterFunc(ctx, teardown)
	return s
}

func (s *streamSession) advertise(ctx context.Context) (*packp.AdvRefs, error) {
	s.stats.advertisements.Add(1)
	ar := packp.NewAdvRefs()
	err := ar.Decode(s.r)
	switch {
	case err == nil:
	case errors.Is(err, packp.ErrEmptyAdvRefs):
		return nil, transport.ErrEmptyRemoteRepository
	case errors.Is(err, packp.ErrEmptyInput):
		// The server hung up without a word: the reason is on stderr.
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if s.wait != nil {
			_ = s.wait() // its exit status says less than its stderr
		}
		msg := s.stderr.firstLine()
		if isNotFoundText(msg) {
			return nil, fmt.Errorf("%w: %s", transport.ErrRepositoryNotFound, msg)
		}
		if msg == "" {
			return nil, fmt.Errorf("server closed the connection: %w", io.ErrUnexpectedEOF)
		}
		return nil, fmt.Errorf("server closed the connection: %s: %w", msg, io.ErrUnexpectedEOF)
	default:
		var unexpected *packp.ErrUnexpectedData
		if errors.As(err, &unexpected) && isNotFoundText(string(unexpected.Data)) {
			return nil, fmt.Errorf("%w: %s", transport.ErrRepositoryNotFound, unexpected.Data)
		}
		return nil, err
	}
	if ar.IsEmpty() {
		return nil, transport.ErrEmptyRemoteRepository
	}
	// Drop what go-git cannot decode (multi_ack), but keep thin-pack,
	// which we handle (see fetchPack).
	thin := ar.Capabilities.Supports(capability.ThinPack)
	transport.FilterUnsupportedCapabilities(ar.Capabilities)
	if thin {
		_ = ar.Capabilities.Set(capability.ThinPack)
	}
	return ar, nil
}

func (s *streamSession) uploadPack(_ context.Context, req *packp.UploadPackRequest) (*packp.UploadPackResponse, error) {
	s.packRun = true
	s.stats.packRequests.Add(1)
	resp := packp.NewUploadPackResponse(req)
	if err := s.sendRequest(req); err != nil {
		// git upload-pack checks each want as it reads it and hangs up
		// on one it refuses ("not our ref"), possibly before the rest of
		// the request is written: its reason is in the response.
		var errLine *pktline.ErrorLine
		if derr := resp.Decode(io.NopCloser(s.r)); errors.As(derr, &errLine) {
			return nil, fmt.Errorf("read pack response: %w", derr)
		}
		if msg := s.stderr.firstLine(); msg != "" {
			return nil, fmt.Errorf("%w (server: %s)", err, msg)
		}
		return nil, err
	}
	if err := resp.Decode(io.NopCloser(s.r)); err != nil {
		if msg := s.stderr.firstLine(); msg != "" {
			return nil, fmt.Errorf("read pack response: %w (server: %s)", err, msg)
		}
		return nil, fmt.Errorf("read pack response: %w", err)
	}
	return resp, nil
}

func (s *streamSession) sendRequest(req *packp.UploadPackRequest) error {
	if err := req.UploadRequest.Encode(s.w); err != nil {
		return fmt.Errorf("send wants: %w", err)
	}
	if err := req.UploadHaves.Encode(s.w, true); err != nil {
		return fmt.Errorf("send haves: %w", err)
	}
	if err := pktline.NewEncoder(s.w).EncodeString("done\n"); err != nil {
		return fmt.Errorf("send done: %w", err)
	}
	if err := s.w.Close(); err != nil {
		return fmt.Errorf("close request: %w", err)
	}
	return nil
}

// Close ends the conversation: when no pack was asked for, a flush tells
// the server we are done, as Git does after a bare ref listing.
func (s *streamSession) Close() error {
	s.once.Do(func() {
		if !s.packRun {
			_, _ = s.w.Write(pktline.FlushPkt)
			_ = s.w.Close()
		}
		s.stop()
		s.teardn()
	})
	return nil
}

// tailBuffer keeps the first bytes a server writes on stderr.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const stderrKeep = 4 << 10

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := stderrKeep - len(b.buf); room > 0 {
		if len(p) < room {
			room = len(p)
		}
		b.buf = append(b.buf, p[:room]...)
	}
	return len(p), nil
}

// firstLine returns the first line that is not a progress or hint line.
func (b *tailBuffer) firstLine() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, line := range strings.Split(string(b.buf), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "hint:") {
			continue
		}
		return line
	}
	return ""
}

// --- SSH ---

func (d dialer) openSSH(ctx context.Context) (session, error) {
	addr := d.remote.hostPort()
	cfg := *d.creds.ssh
	cfg.HostKeyAlgorithms = d.creds.hostKeys.HostKeyAlgorithms(addr)
	var nd net.Dialer
	conn, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	// The handshake has no context of its own: closing the connection is
	// what bounds it.
	stopHandshake := context.AfterFunc(ctx, func() { _ = conn.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, &cfg)
	stopHandshake()
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	client := ssh.NewClient(sc, chans, reqs)
	fail := func(err error) (session, error) {
		_ = client.Close()
		return nil, err
	}
	sess, err := client.NewSession()
	if err != nil {
		return fail(err)
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		return fail(err)
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		return fail(err)
	}
	stderr := &tailBuffer{}
	sess.Stderr = stderr
	if err := sess.Start("git-upload-pack " + shellQuote(d.remote.path)); err != nil {
		return fail(err)
	}
	teardown := func() {
		_ = sess.Close()
		_ = client.Close()
	}
	return newStreamSession(ctx, stdin, stdout, stderr, sess.Wait, teardown, d), nil
}

// shellQuote quotes s for a POSIX shell as Git's sq_quote_buf does.
func shellQuote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\'' || c == '!' {
			b.WriteString(`'\`)
			b.WriteByte(c)
			b.WriteByte('\'')
			continue
		}
		b.WriteByte(c)
	}
	b.WriteByte('\'')
	return b.String()
}

// --- git:// ---

func (d dialer) openGitDaemon(ctx context.Context) (session, error) {
	var nd net.Dialer
	conn, err := nd.DialContext(ctx, "tcp", d.remote.hostPort())
	if err != nil {
		return nil, err
	}
	host := d.remote.host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if d.remote.port != 0 && d.remote.port != 9418 {
		host += ":" + strconv.Itoa(d.remote.port)
	}
	req := packp.GitProtoRequest{RequestCommand: transport.UploadPackServiceName, Pathname: d.remote.path, Host: host}
	if err := req.Encode(conn); err != nil {
		_ = conn.Close()
		return nil, err
	}
	// The git protocol has no stderr and no way to end the request but
	// closing the connection: the request side is never half-closed.
	w := nopWriteCloser{conn}
	return newStreamSession(ctx, w, conn, &tailBuffer{}, nil, func() { _ = conn.Close() }, d), nil
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// --- file:// ---

func (d dialer) openFile(ctx context.Context) (session, error) {
	// git upload-pack serves the local repository exactly as a server
	// would, so shallow fetches and limits behave as over the network.
	cmd := exec.CommandContext(ctx, "git", "upload-pack", d.remote.path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr := &tailBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start git upload-pack (file:// URLs need the git binary): %w", err)
	}
	var waitOnce sync.Once
	var waitErr error
	wait := func() error {
		waitOnce.Do(func() { waitErr = cmd.Wait() })
		return waitErr
	}
	teardown := func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill() // it has served us, or we are giving up on it
		_ = wait()
	}
	return newStreamSession(ctx, stdin, stdout, stderr, wait, teardown, d), nil
}
