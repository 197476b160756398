package model

// Defaults are the values a server fills in for fields a resource omits, in
// ADC terms: what APISIX before 3.14 persisted on every write, or what API7
// Enterprise reports from GET /api/schema/core. The diff fills them into both
// sides before comparing, so a server that writes defaults back never shows
// drift.
//
// Kinds holds, per kind, an object of default values shaped like that kind's
// Body: scalars are filled where absent, nested objects are filled only where
// present, and a one-element array of objects holds the defaults of every
// element (for example service.upstream.nodes: [{priority: 0}]). Plugins
// holds, per plugin name, the defaults of that plugin's configuration.
type Defaults struct {
	Kinds   map[Kind]map[string]any
	Plugins map[string]map[string]any
}
