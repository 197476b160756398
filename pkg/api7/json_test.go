package api7

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

// stdJSON is what marshalJSON must write: encoding/json without HTML
// escaping and without the newline.
func stdJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func TestMarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		v    any
	}{
		{"nil", nil},
		{"nil map", map[string]any(nil)},
		{"nil slice", []any(nil)},
		{"empty", map[string]any{}},
		{"sorted keys", map[string]any{"b": 1.0, "a": []any{true, false, nil}, "é": "x", "A": ""}},
		{"labels", map[string]string{"managed-by": "reconciler", "team": `["a","b"]`}},
		{"escapes", "quote \" backslash \\ nl \n cr \r tab \t bs \b ff \f nul \x00 unit \x1f del \x7f <html> & 'ok'"},
		{"unicode", "ü 日本 \u2028 \u2029 😀"},
		{"invalid utf-8", "a\xffb\xc3"},
		{"numbers", []any{0.0, -0.0, 1.0, -1.5, 1e20, 1e21, 123456789.125, 1e-6, 1e-7, 1.5e-7, 5e-324, math.MaxFloat64, 3.0000000000000004}},
		{"PEM", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"},
		{"fallback types", map[string]any{"n": json.Number("12"), "i": 3, "s": []string{"a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := stdJSON(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := marshalJSON(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
	for _, bad := range []any{math.NaN(), math.Inf(1), map[string]any{"x": math.Inf(-1)}} {
		if _, err := marshalJSON(bad); err == nil {
			t.Errorf("%v encoded", bad)
		}
	}
}

// FuzzMarshalJSON: for any JSON document, decoded as the Client's bodies
// are, marshalJSON writes exactly what encoding/json writes.
func FuzzMarshalJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5,-3e-9,"x\u2028"],"b":{"c":null,"d":true}}`, `"\ud800"`, `1e300`, `[]`, `"<>&"`, `{"z":"\u0000\u001f"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var v any
		if err := json.Unmarshal(doc, &v); err != nil {
			return
		}
		want, err := stdJSON(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := marshalJSON(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%q:\ngot  %s\nwant %s", doc, got, want)
		}
	})
}
