package jsondec

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	docs := []string{
		`{"list":[{"key":"/apisix/routes/1","value":{"id":"1","uris":["/a"],"status":1,"w":-1.5e-3}}],"total":1}`,
		`  [ ] `, `{}`, `null`, `true`, `false`, `0`, `-0`, `1e400`, `-1e-400`, `12345678901234567890`, `1.`, `.5`, `01`, `-`, `1e`, `1e+`,
		`"a\"b\\c\/d\b\f\n\r\tü\u00fc\ud83d\ude00\ud800\udc00x\ud800x\udfff\u12"`, `"\x01"`, "\"a\xffb\xc3\"", `"\uD83D\uDE00"`, `"\ud800\u0041"`,
		`{"a":1,"a":2}`, `{"a" 1}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{1:2}`, `tru`, `nulls`, `[1] x`, ``, `   `, `"abc`, `{"a":`, `[`,
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001), strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		`{"a":{"b":{"c":[true,null,"x",{"d":[]}]}}}`, "\t\n\r {\"k\" :\n[ 1 ,2 ]\r}\n",
	}
	for _, doc := range docs {
		t.Run(fmt.Sprintf("%.40q", doc), func(t *testing.T) { sameAsStd(t, []byte(doc)) })
	}
}

func sameAsStd(t *testing.T, doc []byte) {
	t.Helper()
	var want any
	werr := json.Unmarshal(doc, &want)
	got, gerr := Decode(doc)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: encoding/json error %v, Decode error %v", doc, werr, gerr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\ngot  %#v\nwant %#v", doc, got, want)
	}
}

// FuzzDecode: Decode accepts what encoding/json accepts and gives the same
// value.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5,-3e-9,"x\u2028"],"b":{"c":null,"d":true}}`, `"\ud800\udc00"`, `1e300`, `[]`, `{"":""}`, "\"\xff\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) { sameAsStd(t, doc) })
}

func BenchmarkDecode(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"list":[`)
	for i := range 2000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"key":"/apisix/routes/%040d","createdIndex":%d,"modifiedIndex":%d,"value":{"id":"%040d","name":"route-%d","uris":["/svc/%d"],"methods":["GET"],"labels":{"managed-by":"reconciler"},"service_id":"d24b3c2a43210c591420015de31a163713a39f74","status":1,"create_time":1795915830,"update_time":1795915830}}`, i, i, i, i, i, i)
	}
	sb.WriteString(`],"total":2000}`)
	doc := []byte(sb.String())
	b.Run("jsondec", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decode(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			var v any
			if err := json.Unmarshal(doc, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
