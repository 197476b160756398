package deploy

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int
	cmd  string // upper case: FROM, RUN, COPY…
	args string
}

// parseDockerfile reads the instructions of a Dockerfile: comments and
// blank lines dropped, backslash continuations joined.
func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out   []instruction
		cur   strings.Builder
		start int
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur.Len() > 0 {
		t.Fatalf("%s ends inside a continued line", path)
	}
	return out
}

// stage is one FROM and what follows it.
type stage struct {
	image, name string
	instrs      []instruction
}

func stages(t *testing.T, instrs []instruction) []stage {
	t.Helper()
	var out []stage
	for _, in := range instrs {
		if in.cmd == "FROM" {
			var fields []string
			for _, f := range strings.Fields(in.args) {
				if !strings.HasPrefix(f, "--") {
					fields = append(fields, f)
				}
			}
			s := stage{image: fields[0]}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				s.name = fields[2]
			}
			out = append(out, s)
			continue
		}
		if len(out) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("Dockerfile:%d: %s before the first FROM", in.line, in.cmd)
			}
			continue
		}
		out[len(out)-1].instrs = append(out[len(out)-1].instrs, in)
	}
	return out
}

var (
	digestPin  = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)
	versionTag = regexp.MustCompile(`^[^@]+:v?\d+\.\d+\.\d+([-.][a-z0-9.]+)?$`)
	secretPath = regexp.MustCompile(`(?i)(\.pem|\.key|\.p12|\.pfx|id_rsa|id_ecdsa|id_ed25519|\.env|secret|token|credential|kubeconfig|\.netrc|\.git)`)
	secretName = regexp.MustCompile(`(?i)(token|password|passwd|secret|private|api_?key|credential)`)
)

func TestDockerfile(t *testing.T) {
	instrs := parseDockerfile(t, "../Dockerfile")
	st := stages(t, instrs)
	if len(st) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a runtime stage", len(st))
	}

	t.Run("base images pinned", func(t *testing.T) {
		for _, s := range st {
			if !digestPin.MatchString(s.image) && !versionTag.MatchString(s.image) {
				t.Errorf("FROM %s: pin it by digest (@sha256:…) or an exact version tag", s.image)
			}
			if strings.Contains(s.image, ":latest") || strings.Contains(s.image, "$") {
				t.Errorf("FROM %s: no latest, no build-arg image", s.image)
			}
		}
		final := st[len(st)-1]
		if !strings.HasPrefix(final.image, "gcr.io/distroless/static") || !digestPin.MatchString(final.image) {
			t.Errorf("runtime image %s: want distroless static pinned by digest", final.image)
		}
	})

	build := st[0]
	buildText := ""
	for _, in := range build.instrs {
		buildText += in.cmd + " " + in.args + "\n"
	}

	t.Run("builder Go is the module's Go", func(t *testing.T) {
		m := regexp.MustCompile(`^golang:(\d+)\.(\d+)\.(\d+)`).FindStringSubmatch(build.image)
		if m == nil {
			t.Fatalf("build stage %s: want golang:X.Y.Z", build.image)
		}
		mod, err := os.ReadFile("../go.mod")
		if err != nil {
			t.Fatal(err)
		}
		g := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)(?:\.(\d+))?$`).FindSubmatch(mod)
		if g == nil {
			t.Fatal("go.mod has no go line")
		}
		have := [3]int{atoi(m[1]), atoi(m[2]), atoi(m[3])}
		want := [3]int{atoi(string(g[1])), atoi(string(g[2])), atoi(string(g[3]))}
		if have[0] != want[0] || have[1] != want[1] || have[2] < want[2] {
			t.Errorf("builder Go %v does not match go.mod's go %v", have, want)
		}
	})

	t.Run("static, trimmed, versioned build", func(t *testing.T) {
		for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "GOTOOLCHAIN=local", "./cmd/reconciler"} {
			if !strings.Contains(buildText, want) {
				t.Errorf("build stage lacks %s", want)
			}
		}
		// The same -X flags as the Makefile, on variables that exist.
		makefile, err := os.ReadFile("../Makefile")
		if err != nil {
			t.Fatal(err)
		}
		xflags := regexp.MustCompile(`-X (main\.[a-z]+)=`).FindAllStringSubmatch(string(makefile), -1)
		if len(xflags) == 0 {
			t.Fatal("Makefile has no -X flags")
		}
		version, err := os.ReadFile("../cmd/reconciler/version.go")
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range xflags {
			if !strings.Contains(buildText, "-X "+x[1]+"=") {
				t.Errorf("build stage lacks -X %s= (the Makefile sets it)", x[1])
			}
			v := strings.TrimPrefix(x[1], "main.")
			if !regexp.MustCompile(`(?m)^\s*` + v + `\s+=`).Match(version) {
				t.Errorf("cmd/reconciler has no variable %s for -X %s", v, x[1])
			}
		}
	})

	t.Run("runtime stage", func(t *testing.T) {
		final := st[len(st)-1]
		var user, entrypoint, cmd, expose string
		for _, in := range final.instrs {
			switch in.cmd {
			case "USER":
				user = in.args
			case "ENTRYPOINT":
				entrypoint = in.args
			case "CMD":
				cmd = in.args
			case "EXPOSE":
				expose = in.args
			case "COPY":
				if !strings.Contains(in.args, "--from=") {
					t.Errorf("Dockerfile:%d: the runtime stage copies from the build context: %s", in.line, in.args)
				}
			case "ADD", "RUN":
				t.Errorf("Dockerfile:%d: %s in the runtime stage (distroless has no shell; copy the binary only)", in.line, in.cmd)
			}
		}
		uid, gid, _ := strings.Cut(user, ":")
		if n, err := strconv.Atoi(uid); err != nil || n == 0 {
			t.Errorf("USER %q: want a numeric non-root user, so that runAsNonRoot can check it", user)
		}
		if gid != "" {
			if n, err := strconv.Atoi(gid); err != nil || n == 0 {
				t.Errorf("USER %q: want a numeric non-root group", user)
			}
		}
		if got := execForm(t, "ENTRYPOINT", entrypoint); strings.Join(got, " ") != "/reconciler" {
			t.Errorf("ENTRYPOINT %v, want [/reconciler]", got)
		}
		if got := execForm(t, "CMD", cmd); strings.Join(got, " ") != "run --config /etc/reconciler/config.yaml" {
			t.Errorf("CMD %v, want [run --config /etc/reconciler/config.yaml]", got)
		}
		if expose != "9090" {
			t.Errorf("EXPOSE %q, want 9090", expose)
		}
	})

	t.Run("no secrets copied", func(t *testing.T) {
		for _, s := range st {
			for _, in := range s.instrs {
				switch in.cmd {
				case "COPY", "ADD":
					srcs := copySources(in.args)
					for _, src := range srcs {
						if src == "." || src == "./" || secretPath.MatchString(src) {
							t.Errorf("Dockerfile:%d: %s %s copies what may hold secrets", in.line, in.cmd, src)
						}
					}
				case "ARG", "ENV":
					for _, f := range strings.Fields(in.args) {
						name, _, _ := strings.Cut(f, "=")
						if secretName.MatchString(name) {
							t.Errorf("Dockerfile:%d: %s %s: build arguments and environment stay in the image's history", in.line, in.cmd, name)
						}
					}
				case "RUN":
					if strings.Contains(in.args, "--mount=type=secret") {
						continue
					}
					if secretName.MatchString(in.args) && !strings.Contains(in.args, "go build") && !strings.Contains(in.args, "go mod download") {
						t.Errorf("Dockerfile:%d: RUN mentions a secret", in.line)
					}
				}
			}
		}
	})

	t.Run("build context", func(t *testing.T) {
		ignore, err := os.ReadFile("../.dockerignore")
		if err != nil {
			t.Fatal(err)
		}
		var patterns []string
		for _, l := range strings.Split(string(ignore), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				patterns = append(patterns, strings.TrimSuffix(l, "/"))
			}
		}
		if len(patterns) == 0 || patterns[0] != "*" {
			t.Fatalf(".dockerignore starts with %q, want \"*\" (an allow-list)", patterns)
		}
		var copied []string
		for _, in := range build.instrs {
			if in.cmd != "COPY" || strings.Contains(in.args, "--from=") {
				continue
			}
			for _, src := range copySources(in.args) {
				src = strings.TrimSuffix(src, "/")
				copied = append(copied, src)
				if !slices.Contains(patterns, "!"+src) {
					t.Errorf("COPY %s: .dockerignore does not let it into the context (want !%s)", src, src)
				}
			}
		}
		// Every package of this module that the binary is built from, and
		// every file it embeds, is in a copied directory and not ignored.
		out, err := exec.Command("go", "list", "-deps", "-f",
			`{{if .Module}}{{if .Module.Main}}{{.Dir}}|{{join .EmbedFiles ","}}{{end}}{{end}}`,
			"../cmd/reconciler").Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		root, err := filepath.Abs("..")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			dir, embeds, _ := strings.Cut(line, "|")
			rel, err := filepath.Rel(root, dir)
			if err != nil {
				t.Fatal(err)
			}
			rel = filepath.ToSlash(rel)
			top, _, _ := strings.Cut(rel, "/")
			if !slices.Contains(copied, top) {
				t.Errorf("package %s is not copied into the build stage (COPY %s/ %s/)", rel, top, top)
			}
			for _, f := range strings.Split(embeds, ",") {
				if f != "" && (strings.Contains("/"+f, "/testdata/") || strings.HasSuffix(f, "_test.go")) {
					t.Errorf("package %s embeds %s, which .dockerignore leaves out", rel, f)
				}
			}
		}
	})
}

func execForm(t *testing.T, what, args string) []string {
	t.Helper()
	var v []string
	if err := json.Unmarshal([]byte(args), &v); err != nil {
		t.Errorf("%s %s: want the exec (JSON) form: %v", what, args, err)
	}
	return v
}

// copySources are the sources of a COPY or ADD (all arguments but flags and
// the destination).
func copySources(args string) []string {
	var fields []string
	for _, f := range strings.Fields(args) {
		if !strings.HasPrefix(f, "--") {
			fields = append(fields, f)
		}
	}
	if len(fields) < 2 {
		return nil
	}
	return fields[:len(fields)-1]
}

// atoi reads a version component; an absent one ("") is 0.
func atoi(s string) int {
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err) // the regexp matched digits only
	}
	return n
}
