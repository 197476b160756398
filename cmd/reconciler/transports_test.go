package main

import (
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Issue 6's "done when": `reconciler diff --source <url>` works over
// git:// and ssh:// too (file:// and HTTPS are in TestGitSource), with the
// SSH flags: a key, and a known_hosts file without which — or with the
// wrong host key in it — nothing is fetched.
func TestDiffOverGitAndSSH(t *testing.T) {
	bare, _ := gitExamples(t)
	g := newGateway(t)
	if r := cli(t, g, nil, "sync", "--source", "file://"+bare, "--path", "gateway"); r.code != 0 {
		t.Fatalf("sync: exit %d\n%s", r.code, r.err)
	}
	root := filepath.Dir(bare)

	t.Run("git daemon", func(t *testing.T) {
		addr := serveInetd(t, func() *exec.Cmd {
			return exec.Command("git", "daemon", "--inetd", "--export-all", "--base-path="+root, "--informative-errors")
		})
		if r := cli(t, g, nil, "diff", "--source", "git://"+addr+"/config.git", "--path", "gateway"); r.code != 0 {
			t.Fatalf("diff over git://: exit %d\n%s\n%s", r.code, r.stdout, r.err)
		}
	})

	t.Run("sshd", func(t *testing.T) {
		addr, key, known, other := startTestSSHD(t)
		url := "ssh://" + currentUser(t) + "@" + addr + bare
		args := []string{"diff", "--source", url, "--path", "gateway", "--git-ssh-key-file", key}
		if r := cli(t, g, nil, append(args, "--git-known-hosts-file", known)...); r.code != 0 {
			t.Fatalf("diff over ssh://: exit %d\n%s\n%s", r.code, r.stdout, r.err)
		}
		if r := cli(t, g, nil, args...); r.code != 1 || !strings.Contains(r.err, "known") {
			t.Errorf("without --git-known-hosts-file: exit %d\n%s", r.code, r.err)
		}
		if r := cli(t, g, nil, append(args, "--git-known-hosts-file", other)...); r.code != 1 || !strings.Contains(r.err, "knownhosts: key mismatch") {
			t.Errorf("with another host's key: exit %d\n%s", r.code, r.err)
		}
	})
}

func currentUser(t *testing.T) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

// serveInetd runs command for every connection to a loopback port, with the
// connection as its stdin and stdout, and returns the address.
func serveInetd(t *testing.T, command func() *exec.Cmd) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			f, err := conn.(*net.TCPConn).File()
			_ = conn.Close()
			if err != nil {
				continue
			}
			cmd := command()
			cmd.Stdin, cmd.Stdout = f, f
			err = cmd.Start()
			_ = f.Close()
			if err == nil {
				wg.Go(func() { _ = cmd.Wait() })
			}
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// startTestSSHD serves SSH on loopback with sshd -i and returns its address,
// a client key it accepts, a known_hosts file with its host key and one
// with another host's key.
func startTestSSHD(t *testing.T) (addr, key, known, other string) {
	t.Helper()
	sshd := "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil {
		if sshd, err = exec.LookPath("sshd"); err != nil {
			t.Skip("sshd is not installed (apt-get install openssh-server; .ci/run does): skipping the SSH test")
		}
	}
	if os.Geteuid() == 0 {
		// sshd as root needs its privilege separation directory, which the
		// package's service creates at boot.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	keygen := func(name string) string {
		p := filepath.Join(dir, name)
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", p).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
		return p
	}
	host, stranger, client := keygen("host"), keygen("stranger"), keygen("client")
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := write("sshd_config", strings.Join([]string{
		"HostKey " + host, "AuthorizedKeysFile " + write("authorized_keys", read(client+".pub")),
		"StrictModes no", "UsePAM no", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
		"PermitRootLogin prohibit-password", "PidFile none", "LogLevel ERROR", "AllowUsers " + currentUser(t),
		"SetEnv GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null", "",
	}, "\n"))
	if out, err := exec.Command(sshd, "-t", "-f", cfg).CombinedOutput(); err != nil {
		t.Fatalf("sshd -t: %v\n%s", err, out)
	}
	addr = serveInetd(t, func() *exec.Cmd { return exec.Command(sshd, "-i", "-f", cfg) })
	_, port, _ := net.SplitHostPort(addr)
	hostLine := func(pub string) string {
		f := strings.Fields(read(pub))
		return "[127.0.0.1]:" + port + " " + f[0] + " " + f[1] + "\n"
	}
	return addr, client, write("known_hosts", hostLine(host+".pub")), write("other_known_hosts", hostLine(stranger+".pub"))
}
