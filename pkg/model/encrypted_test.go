package model

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

// TestEncryptedFilesRefused covers reliability row B5: a file with SOPS
// ciphertext or SOPS metadata is refused with ErrDecryptionRequired, from
// its bytes, naming the file and line and never quoting the ciphertext.
func TestEncryptedFilesRefused(t *testing.T) {
	const cipher = "ENC[AES256_GCM,data:Q2lwaGVy,iv:aXY=,tag:dGFn,type:str]"
	tests := []struct {
		name, file, data string
		line             int
	}{
		{"encrypted value", "consumers.yaml", "consumers:\n  - username: shop\n    credentials:\n      - name: main\n        type: key-auth\n        config: {key: " + cipher + "}\n", 6},
		{"metadata only", "plain.yaml", "consumers:\n  - username: shop\nsops:\n  kms: []\n  version: 3.9.0\n", 3},
		{"metadata first", "first.yaml", "sops:\n  version: 3.9.0\nconsumers: []\n", 1},
		{"JSON", "consumers.json", "{\n  \"consumers\": [],\n  \"sops\" : {\"version\": \"3.9.0\"}\n}\n", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				tt.file:      {Data: []byte(tt.data)},
				"other.yaml": {Data: []byte("services:\n  - name: s\n    upstream: {nodes: [{host: a, port: 80}]}\n")},
			}
			rs, err := Load(fsys, LoadOptions{})
			if rs != nil || !errors.Is(err, ErrDecryptionRequired) {
				t.Fatalf("got %d resources, %v; want ErrDecryptionRequired", len(rs), err)
			}
			var list Errors
			if !errors.As(err, &list) {
				t.Fatalf("not Errors: %T", err)
			}
			var enc *Error
			for _, e := range list {
				if errors.Is(e, ErrDecryptionRequired) {
					if errors.Is(e, ErrInvalid) {
						t.Errorf("an encrypted file also matches ErrInvalid: %v", e)
					}
					enc = e
				}
			}
			if enc == nil || enc.File != tt.file || enc.Line != tt.line {
				t.Fatalf("got %v, want an error at %s:%d", err, tt.file, tt.line)
			}
			if strings.Contains(err.Error(), "Q2lwaGVy") || strings.Contains(err.Error(), "3.9.0") {
				t.Errorf("the error quotes the file: %v", err)
			}
			// The other file's mistake (weight missing) is still reported.
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "other.yaml:3") {
				t.Errorf("the other file's error is missing: %v", err)
			}
		})
	}
	// The words alone are no ciphertext.
	for _, doc := range []string{
		"consumers:\n  - username: sops\n    description: \"ENC[ and sops: are fine here\"\n",
		"global_rules:\n  cors: {allow_origins: \"sops\"}\n",
	} {
		if _, err := loadString(doc); err != nil {
			t.Errorf("refused plain text:\n%s\n%v", doc, err)
		}
	}
}

// TestPlaintextSecrets covers the other half of row B5: secrets written in
// plain text are reported (never shown); references and substituted values
// are not.
func TestPlaintextSecrets(t *testing.T) {
	const canary = "CANARY-plain-4711"
	doc := `consumers:
  - username: alice
    plugins:
      key-auth: {key: ` + canary + `}
    credentials:
      - {name: a, type: basic-auth, config: {username: alice, password: ` + canary + `}}
      - {name: b, type: key-auth, config: {key: "${ALICE_KEY}"}}
      - {name: c, type: jwt-auth, config: {key: alice-jwt, secret: "$secret://vault/jwt"}}
  - username: bob
    plugins:
      key-auth: {key: "$env://BOB_KEY"}
ssls:
  - snis: [a.example.com]
    certificates:
      - {certificate: $env://CERT, key: "$env://KEY"}
      - {certificate: $env://CERT2, key: "` + canary + strings.Repeat("k", 40) + `"}
`
	rs, err := Load(fstest.MapFS{"c.yaml": {Data: []byte(doc)}}, LoadOptions{Env: func(string) (string, bool) { return canary + "-env", true }})
	if err != nil {
		t.Fatal(err)
	}
	var got, fields []string
	for _, w := range PlaintextSecrets(rs) {
		got = append(got, w.String())
		fields = append(fields, w.Field)
		if strings.Contains(w.String(), canary) {
			t.Errorf("the warning shows the secret: %s", w)
		}
	}
	want := []string{
		`c.yaml:2: consumer "alice": plugins.key-auth.key is a secret written in plain text: use ${VAR}, $env:// or $secret:// so that it stays out of Git`,
		`c.yaml:6: consumer_credential "alice/a": config.password is a secret written in plain text: use ${VAR}, $env:// or $secret:// so that it stays out of Git`,
		`c.yaml:13: ssl "a.example.com": certificates.1.key is a secret written in plain text: use ${VAR}, $env:// or $secret:// so that it stays out of Git`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if f := strings.Join(fields, " "); f != "plugins.key-auth.key config.password certificates.1.key" {
		t.Errorf("fields %s", f)
	}
}
