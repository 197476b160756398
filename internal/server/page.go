package server

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
)

// pageTemplate renders the status as a page that needs no script. It
// reloads itself every 15 seconds.
var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"json": func(v any) string {
		if v == nil {
			return "—"
		}
		b, err := json.Marshal(v)
		if err != nil {
			return "?"
		}
		return string(b)
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"dur": func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	// short is a commit's subject line, cut to 80 characters (never
	// inside one).
	"short": func(s string) string {
		s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
		if utf8.RuneCountInString(s) > 80 {
			return string([]rune(s)[:80]) + "…"
		}
		return s
	},
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="15">
<title>reconciler status</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border: 1px solid #ddd; padding: .2em .5em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
code { font-size: 12px; }
.ok { color: #176b2c; font-weight: bold; } .bad { color: #a11; font-weight: bold; } .warn { color: #8a5a00; font-weight: bold; }
.drift { background: #fff1f0; } .pending { background: #f0f6ff; }
</style>
</head>
<body>
<h1>reconciler status</h1>
<p>{{if .Ready}}<span class="ok">ready</span>{{else}}<span class="bad">not ready</span>{{end}}
 · {{len .Targets}} target(s) · {{when .Time}}{{if .Version}} · version {{.Version}}{{end}}
 · <a href="status">status JSON</a> · <a href="metrics">metrics</a></p>
{{range .Targets}}
<h2 id="{{.Name}}">{{.Name}}</h2>
<table>
<tr><th>state</th><td>{{if .Ready}}<span class="ok">Ready</span>{{else}}<span class="bad">Not ready</span>{{end}}
 · {{if .InSync}}<span class="ok">in sync</span>{{else}}<span class="warn">{{len .Drift}} difference(s)</span>{{end}}
 · mode {{.Mode}}{{if .Suspended}} · <span class="warn">suspended</span>{{end}}{{if .WritesPaused}} · <span class="bad">writes paused</span>{{end}}{{if not .Leader}} · standby{{end}}</td></tr>
<tr><th>revision</th><td><code>{{.Revision}}</code>{{if .SourceRevision}} (newest fetched, not applied: <code>{{.SourceRevision}}</code>){{end}}</td></tr>
<tr><th>commit</th><td>{{.Commit.Author}}{{if .Commit.Message}} — {{short .Commit.Message}}{{end}}</td></tr>
<tr><th>source</th><td><code>{{.Source}}</code></td></tr>
<tr><th>gateway</th><td><code>{{.Server}}</code></td></tr>
<tr><th>last cycle</th><td>{{.LastResult}} at {{when .LastTime}}{{if .LastError}}: {{.LastError}}{{end}}</td></tr>
<tr><th>last success</th><td>{{when .LastSuccess}}</td></tr>
<tr><th>next cycle</th><td>{{when .NextCycle}}</td></tr>
</table>
{{if .Conditions}}
<table><tr><th>condition</th><th>since</th><th>message</th></tr>
{{range .Conditions}}<tr><td class="bad">{{.Reason}}</td><td>{{when .Since}}</td><td>{{.Message}}</td></tr>
{{end}}</table>
{{end}}
{{if .Drift}}
<table><tr><th>type</th><th>action</th><th>resource</th><th>state</th><th>fields (live → desired)</th></tr>
{{range .Drift}}<tr class="{{.Type}}"><td>{{.Type}}</td><td>{{.Action}}</td><td>{{.Kind}} <b>{{.Name}}</b><br><code>{{.Key}}</code>{{if .Origin}}<br>{{.Origin}}{{end}}</td>
<td>{{.State}}{{if .Error}}<br>{{.Error}}{{end}}</td>
<td>{{range .Fields}}<code>{{.Path}}</code>: {{json .Old}} → {{json .New}}<br>{{end}}</td></tr>
{{end}}</table>
{{if .DriftTruncated}}<p>… and {{.DriftTruncated}} more (see /status).</p>{{end}}
{{end}}
{{if .Warnings}}
<table><tr><th>warning</th><th>resource</th><th>where</th></tr>
{{range .Warnings}}<tr><td class="warn">{{.Message}}</td><td>{{.Resource}}</td><td>{{.File}}:{{.Line}}</td></tr>
{{end}}</table>
{{if .WarningsTruncated}}<p>… and {{.WarningsTruncated}} more warnings (see /status).</p>{{end}}
{{end}}
<table><tr><th>#</th><th>start</th><th>trigger</th><th>result</th><th>took</th><th>drift</th><th>pending</th><th>applied</th><th>failed</th><th>revision</th><th>error</th></tr>
{{range .History}}<tr><td>{{.Number}}</td><td>{{when .Start}}</td><td>{{.Trigger}}</td><td>{{.Result}}</td><td>{{dur .Duration}}</td>
<td>{{.Counts.Drift}}</td><td>{{.Counts.Pending}}</td><td>{{.Counts.Applied}}</td><td>{{.Counts.Failed}}</td><td><code>{{short .Revision}}</code></td><td>{{short .Error}}</td></tr>
{{end}}</table>
{{end}}
</body>
</html>
`))

type pageData struct {
	StatusDocument
	Version string
}

func (s *srv) page(w http.ResponseWriter, _ *http.Request) {
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, pageData{StatusDocument: s.document(), Version: s.o.Version}); err != nil {
		s.log.Error("render the status page", zap.Error(err))
		http.Error(w, "cannot render the status page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, _ = w.Write(b.Bytes())
}
