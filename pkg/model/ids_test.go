package model

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestADCIDs loads the files ADC 0.28 synced in the conformance corpus
// (testdata/adc, copied from shared/conformance/apisix-3.18/adc-inputs) and
// checks every key against the IDs in the URLs ADC sent to APISIX.
func TestADCIDs(t *testing.T) {
	tests := []struct {
		file string
		want []Key
	}{
		{"orders-create.yaml", []Key{
			{Kind: KindService, ID: "d24b3c2a43210c591420015de31a163713a39f74"},
			{Kind: KindRoute, ID: "339680ce6d6954f1d3f8b028cf9cd7193e926558"},
			{Kind: KindRoute, ID: "6e1d46843f4236de3a0c3bc023cbb7e7da3a122c"},
		}},
		{"inventory-tls-create.yaml", []Key{
			{Kind: KindSSL, ID: "10af872c2080c6195bedf28e72efca75c6b9e768"},
			{Kind: KindSSL, ID: "3a3cb86e0e5a8e197ac6f5ba5da35ea6f2c8adf2"},
			{Kind: KindService, ID: "cdb349b45cb43db78962c6dd1c4718a142dbc481"},
			{Kind: KindUpstream, ID: "b27aea3332fc5b6972f32fc2fa11a5c05b093d91"},
			{Kind: KindRoute, ID: "0b2ef750fcf59cfc4a747eb75b0280d4f54fd86b"},
			{Kind: KindConsumer, ID: "shipping-bot"},
			{Kind: KindConsumer, ID: "warehouse-ui"},
			{Kind: KindCredential, Consumer: "shipping-bot", ID: "dbdc71615566ee09ae27630c556cadf6bdd7c7cb"},
			{Kind: KindCredential, Consumer: "warehouse-ui", ID: "66e8beb36d660f4561a381fa70dd51a84d18d92e"},
			{Kind: KindCredential, Consumer: "warehouse-ui", ID: "8e269ca97dd62667889dca1eb132a221402418de"},
			{Kind: KindGlobalRule, ID: "cors"},
			{Kind: KindGlobalRule, ID: "ip-restriction"},
			{Kind: KindPluginMetadata, ID: "cors"},
		}},
		{"inventory-tls-update.yaml", []Key{
			{Kind: KindSSL, ID: "3a3cb86e0e5a8e197ac6f5ba5da35ea6f2c8adf2"},
			{Kind: KindSSL, ID: "5e674f6aaf95167daf9f93b4c4d08fa2c24e8fb4"}, // snis changed: a new ID
			{Kind: KindService, ID: "cdb349b45cb43db78962c6dd1c4718a142dbc481"},
			{Kind: KindUpstream, ID: "b27aea3332fc5b6972f32fc2fa11a5c05b093d91"},
			{Kind: KindRoute, ID: "0b2ef750fcf59cfc4a747eb75b0280d4f54fd86b"},
			{Kind: KindConsumer, ID: "shipping-bot"},
			{Kind: KindConsumer, ID: "warehouse-ui"},
			{Kind: KindCredential, Consumer: "shipping-bot", ID: "dbdc71615566ee09ae27630c556cadf6bdd7c7cb"},
			{Kind: KindCredential, Consumer: "warehouse-ui", ID: "66e8beb36d660f4561a381fa70dd51a84d18d92e"},
			{Kind: KindCredential, Consumer: "warehouse-ui", ID: "8e269ca97dd62667889dca1eb132a221402418de"},
			{Kind: KindGlobalRule, ID: "cors"},
			{Kind: KindGlobalRule, ID: "ip-restriction"},
			{Kind: KindPluginMetadata, ID: "cors"},
		}},
		{"empty.yaml", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			rs, err := Load(os.DirFS("testdata/adc"), LoadOptions{Paths: []string{tt.file}})
			if err != nil {
				t.Fatal(err)
			}
			var got []Key
			for _, r := range rs {
				got = append(got, r.Key)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
		})
	}
}

// TestADCBodies checks that bodies carry what ADC's lint adds, so that
// what the client sends equals what ADC sent (11-adc-sync's upstream PUT
// had type, scheme, pass_host and node priority 0 although the file has
// only type and scheme).
func TestADCBodies(t *testing.T) {
	rs, err := Load(os.DirFS("testdata/adc"), LoadOptions{Paths: []string{"orders-create.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"type": "roundrobin", "scheme": "http", "pass_host": "pass",
		"nodes": []any{
			map[string]any{"host": "10.20.0.11", "port": 8080.0, "weight": 100.0, "priority": 0.0},
			map[string]any{"host": "10.20.0.12", "port": 8080.0, "weight": 50.0, "priority": 0.0},
		},
	}
	if diff := cmp.Diff(want, rs[0].Body["upstream"]); diff != "" {
		t.Errorf("upstream (-want +got):\n%s", diff)
	}
	if _, ok := rs[0].Body["id"]; ok {
		t.Error("body has an id")
	}
}

func TestIDFunctions(t *testing.T) {
	tests := []struct{ got, want string }{
		{ServiceID("orders-service"), "d24b3c2a43210c591420015de31a163713a39f74"},
		{RouteID("orders-service", "orders-list"), "339680ce6d6954f1d3f8b028cf9cd7193e926558"},
		{UpstreamID("inventory-service", "inventory-canary"), "b27aea3332fc5b6972f32fc2fa11a5c05b093d91"},
		{CredentialID("warehouse-ui", "backup"), "8e269ca97dd62667889dca1eb132a221402418de"},
		{SSLID([]string{"legacy.sample-tls.test", "legacy-v2.sample-tls.test"}), "5e674f6aaf95167daf9f93b4c4d08fa2c24e8fb4"},
		{ConsumerGroupID("orders-service"), "d24b3c2a43210c591420015de31a163713a39f74"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("case %d: got %s, want %s", i, tt.got, tt.want)
		}
	}
}

// TestIDRules covers reliability row B2: IDs that could leave their URL
// segment are refused at validation.
func TestIDRules(t *testing.T) {
	bad := []struct{ name, yaml string }{
		{"traversal", `"../consumers/admin"`},
		{"dot-dot", `".."`},
		{"dot", `"."`},
		{"slash", `"a/b"`},
		{"percent-encoded", `"%2e%2e"`},
		{"65 characters", `"` + string(make65()) + `"`},
		{"NUL", `"a\0b"`},
		{"RTL override", `"a\u202eb"`},
		{"integer zero", `0`},
		{"empty", `""`},
		{"space", `"a b"`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			for _, doc := range []string{
				"services:\n  - name: s\n    id: " + tt.yaml + "\n    upstream: {nodes: []}\n",
				"services:\n  - name: s\n    upstream: {nodes: []}\n    routes:\n      - {name: r, uris: [/], id: " + tt.yaml + "}\n",
				"ssls:\n  - id: " + tt.yaml + "\n    snis: [a.example.com]\n    certificates: [{certificate: $env://C, key: $env://K}]\n",
				"consumers:\n  - username: " + tt.yaml + "\n",
				"global_rules:\n  " + tt.yaml + ": {}\n",
			} {
				if _, err := loadString(doc); err == nil {
					t.Errorf("accepted:\n%s", doc)
				}
			}
		})
	}
	for _, good := range []string{"a", "A-b_c.d", "0", string(make65()[:64]), ".a", "a..b"} {
		if !validID(good) {
			t.Errorf("validID(%q) = false", good)
		}
	}
}

func make65() []byte {
	b := make([]byte, 65)
	for i := range b {
		b[i] = 'x'
	}
	return b
}

// TestKindRank checks that Less orders kinds as Kinds() lists them.
func TestKindRank(t *testing.T) {
	kinds := Kinds()
	for i, k := range kinds {
		if kindRank(k) != i {
			t.Errorf("kindRank(%s) = %d, want %d", k, kindRank(k), i)
		}
	}
	if kindRank("unknown") != len(kinds) {
		t.Errorf("unknown kinds must sort last")
	}
}
