package jsonenc

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

// stdJSON is what Append must write: encoding/json without HTML escaping
// and without the newline.
func stdJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func TestAppend(t *testing.T) {
	tests := []struct {
		name string
		v    any
	}{
		{"nil", nil},
		{"nil map", map[string]any(nil)},
		{"nil slice", []any(nil)},
		{"nil labels", map[string]string(nil)},
		{"empty", map[string]any{}},
		{"sorted keys", map[string]any{"b": 1.0, "a": []any{true, false, nil}, "é": "x", "A": ""}},
		{"labels", map[string]string{"managed-by": "reconciler", "team": `["a","b"]`}},
		{"escapes", "quote \" backslash \\ nl \n cr \r tab \t bs \b ff \f nul \x00 unit \x1f del \x7f <html> & 'ok'"},
		{"unicode", "ü 日本 \u2028 \u2029 😀"},
		{"invalid utf-8", "a\xffb\xc3"},
		{"floats", []any{0.0, math.Copysign(0, -1), 1.0, -1.5, 1e20, 1e21, 123456789.125, 1e-6, 1e-7, 1.5e-7, 5e-324, math.MaxFloat64, 3.0000000000000004}},
		{"numbers", []any{json.Number("0"), json.Number("-12.5e+3"), json.Number("1E9"), json.Number(""), json.Number("100000000000000000000000")}},
		{"raw", map[string]any{"v": json.RawMessage(`{"a": [1, 2],  "b":"x y"}`), "n": json.RawMessage(nil)}},
		{"PEM", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"},
		{"fallback types", map[string]any{"i": 3, "s": []string{"a"}, "m": map[string]int{"x": 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := stdJSON(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Append(nil, tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
	for _, bad := range []any{math.NaN(), math.Inf(1), map[string]any{"x": math.Inf(-1)}, json.Number("01"), json.Number("1."), json.Number("-"),
		json.Number("1e"), json.Number("0x1"), json.RawMessage(`{`)} {
		if _, err := Append(nil, bad); err == nil {
			t.Errorf("%#v encoded", bad)
		}
		if _, err := stdJSON(bad); err == nil {
			t.Errorf("%#v: encoding/json accepts it", bad)
		}
	}
}

// FuzzAppend: for any JSON document, decoded into interface values with
// floats and with json.Number (as the client and the emulator decode), and
// for any text as a json.Number or a string, Append writes exactly what
// encoding/json writes, or fails where it fails.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5,-3e-9,"x\u2028"],"b":{"c":null,"d":true}}`, `"\ud800"`, `1e300`, `[]`, `"<>&"`, `{"z":"\u0000\u001f"}`, `-0.0e+01`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var asFloats any
		if json.Unmarshal(doc, &asFloats) == nil {
			same(t, asFloats)
			d := json.NewDecoder(bytes.NewReader(doc))
			d.UseNumber()
			var asNumbers any
			if d.Decode(&asNumbers) == nil {
				same(t, asNumbers)
			}
			same(t, json.RawMessage(doc))
		}
		same(t, json.Number(doc))
		same(t, string(doc))
	})
}

func same(t *testing.T, v any) {
	t.Helper()
	want, werr := stdJSON(v)
	got, gerr := Append([]byte("prefix"), v)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%#v: encoding/json error %v, Append error %v", v, werr, gerr)
	}
	if werr == nil && !bytes.Equal(got, append([]byte("prefix"), want...)) {
		t.Fatalf("%#v:\ngot  %s\nwant prefix%s", v, got, want)
	}
}
