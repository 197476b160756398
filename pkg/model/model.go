// Package model is the desired state of a gateway in ADC's file format: the
// resource kinds, their keys and deterministic IDs, loading a tree of files,
// environment substitution and validation.
//
// A Resource carries its body in ADC's terms (the shape of one entry in an ADC
// file), never in the wire format of a particular Admin API: the api7 package
// maps between the two, so desired and live state meet here in one form.
//
// The package is a leaf: it does no network I/O and imports nothing of ours.
package model

import (
	"crypto/sha1" //nolint:gosec // ADC's IDs are SHA-1 by definition; not used for security.
	"encoding/hex"
	"fmt"
	"strings"
)

// Kind is a resource kind. The values are ADC's resource type names.
type Kind string

// The resource kinds.
const (
	KindService        Kind = "service"
	KindRoute          Kind = "route"
	KindStreamRoute    Kind = "stream_route"
	KindUpstream       Kind = "upstream" // an extra named upstream of a service (services[].upstreams[])
	KindConsumer       Kind = "consumer"
	KindCredential     Kind = "consumer_credential"
	KindSSL            Kind = "ssl"
	KindConsumerGroup  Kind = "consumer_group"
	KindGlobalRule     Kind = "global_rule"
	KindPluginMetadata Kind = "plugin_metadata"
)

// Kinds returns every kind in dependency order: a kind never depends on a
// kind that comes after it. It returns a fresh slice.
func Kinds() []Kind {
	return []Kind{
		KindSSL,
		KindService,
		KindUpstream,
		KindRoute,
		KindStreamRoute,
		KindConsumerGroup,
		KindConsumer,
		KindCredential,
		KindGlobalRule,
		KindPluginMetadata,
	}
}

// Valid reports whether k is one of the kinds above.
func (k Kind) Valid() bool {
	for _, v := range Kinds() {
		if k == v {
			return true
		}
	}
	return false
}

// Key identifies a resource on the gateway. IDs are unique per kind, except
// for credentials, which the Admin API stores under their consumer: Consumer
// holds the consumer's username for them and is empty for every other kind.
type Key struct {
	Kind     Kind
	Consumer string
	ID       string
}

// String renders the key as kind/id, or kind/consumer/id for credentials.
func (k Key) String() string {
	if k.Consumer != "" {
		return string(k.Kind) + "/" + k.Consumer + "/" + k.ID
	}
	return string(k.Kind) + "/" + k.ID
}

// IsZero reports whether k is the zero key (no resource).
func (k Key) IsZero() bool { return k == Key{} }

// Less orders keys by kind in dependency order, then consumer, then ID: a
// total order with no ties between distinct keys.
func (k Key) Less(o Key) bool {
	if k.Kind != o.Kind {
		return kindRank(k.Kind) < kindRank(o.Kind)
	}
	if k.Consumer != o.Consumer {
		return k.Consumer < o.Consumer
	}
	return k.ID < o.ID
}

func kindRank(k Kind) int {
	// The order of Kinds(), without allocating: Less runs inside sorts of
	// tens of thousands of keys.
	switch k {
	case KindSSL:
		return 0
	case KindService:
		return 1
	case KindUpstream:
		return 2
	case KindRoute:
		return 3
	case KindStreamRoute:
		return 4
	case KindConsumerGroup:
		return 5
	case KindConsumer:
		return 6
	case KindCredential:
		return 7
	case KindGlobalRule:
		return 8
	case KindPluginMetadata:
		return 9
	}
	return 10 // unknown kinds sort last, by name through the ID tie-break of the caller
}

// Origin is where a desired resource was declared. Live resources have the
// zero Origin.
type Origin struct {
	File string // path relative to the loaded root, with forward slashes
	Line int    // 1-based line of the resource's first key; 0 when unknown
}

// String renders file:line, or just the file when the line is unknown.
func (o Origin) String() string {
	if o.Line > 0 {
		return fmt.Sprintf("%s:%d", o.File, o.Line)
	}
	return o.File
}

// Resource is one object of the desired or live state.
//
// Body is the resource in ADC's file format as decoded JSON
// (map[string]any, []any, string, float64, bool, nil): for a service, its
// fields including the inline `upstream` but without the nested `routes`,
// `stream_routes` and `upstreams`; for a consumer, without `credentials`; for
// a global rule or plugin metadata, the plugin's configuration itself. The
// `id` field is never in Body: it is Key.ID.
type Resource struct {
	Key Key
	// Name is the human name: the name of a service, route, stream route,
	// upstream or credential, a consumer's username, an SSL's SNIs joined by
	// ",", or the plugin name of a global rule or plugin metadata.
	Name string
	// Parent is the resource this one belongs to and depends on: the service
	// of a route, stream route or extra upstream, the consumer of a
	// credential. Zero for top-level resources.
	Parent Key
	Body   map[string]any
	Origin Origin
	// Secrets lists JSON pointers (RFC 6901) into Body whose values must be
	// masked wherever they are shown: values that came from ${VAR}
	// substitution. Plugin secret fields are masked by rule elsewhere.
	Secrets []string
}

// Inventory is what one listing of a gateway found. A listing that failed
// part-way is an error, never an Inventory.
type Inventory struct {
	// Owned are the resources that carry the ownership label (and the
	// resources owned through them: inline upstreams, credentials).
	Owned []Resource
	// Unowned are the keys of objects present on the gateway without the
	// ownership label. They are never written or deleted; a desired resource
	// whose key is here is an ownership conflict.
	Unowned []Key
}

// ID derivation, identical to ADC's (libs/sdk/src/utils.ts generateId).

// HashID is ADC's generateId: the lowercase hex SHA-1 of s.
func HashID(s string) string {
	sum := sha1.Sum([]byte(s)) //nolint:gosec // see import
	var buf [2 * sha1.Size]byte
	hex.Encode(buf[:], sum[:])
	return string(buf[:]) // one allocation: IDs are made for every resource of a load
}

// ServiceID is the ID of a service named name.
func ServiceID(name string) string { return HashID(name) }

// RouteID is the ID of a route (or stream route) of a service.
func RouteID(service, route string) string { return HashID(service + "." + route) }

// UpstreamID is the ID of an extra named upstream of a service.
func UpstreamID(service, upstream string) string { return HashID(service + "." + upstream) }

// CredentialID is the ID of a consumer's credential.
func CredentialID(username, credential string) string {
	return HashID(username + "." + credential)
}

// SSLID is the ID of an SSL object serving snis, in the order given.
func SSLID(snis []string) string { return HashID(strings.Join(snis, ",")) }

// ConsumerGroupID is the ID of a consumer group named name.
func ConsumerGroupID(name string) string { return HashID(name) }

// Defaults are the values a server fills in for fields a request leaves out,
// in ADC's terms (the shape of Body), so that a diff can treat an omitted
// field and the server's default as equal.
//
// Kinds holds, per kind, a partial body: a scalar applies where the resource
// has no value at that path; a nested object applies inside the resource's
// object of the same name only when the resource has that object; an array
// holding one object applies that object to every element of the resource's
// array (as ADC's differ merges defaults). Plugins holds, per plugin name,
// the defaults of that plugin's configuration, applied the same way to every
// `plugins.<name>` object of every kind.
//
// The zero Defaults (nil maps) means "the server adds nothing", which is
// what APISIX 3.14 and later do.
type Defaults struct {
	Kinds   map[Kind]map[string]any
	Plugins map[string]map[string]any
	// ConsumerPlugins holds, per auth plugin name, the defaults of that
	// plugin's consumer schema (APISIX's ?schema_type=consumer), applied
	// the same way to a consumer's `plugins.<name>` and to the `config` of
	// a credential whose `type` is that plugin. Where it has an entry, a
	// consumer's `plugins.<name>` takes it instead of Plugins' entry, as
	// the server checks an auth plugin on a consumer against its consumer
	// schema only. Nil or missing entries mean no defaults.
	ConsumerPlugins map[string]map[string]any
}
