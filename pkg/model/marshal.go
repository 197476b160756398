package model

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"

	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

// MarshalOptions configure Marshal.
type MarshalOptions struct {
	// WithID writes every resource's `id` field (as `adc dump --with-id`
	// does), so that IDs that do not follow from names survive a round trip.
	// Consumers, global rules and plugin metadata have no id field: their ID
	// is their username or plugin name.
	WithID bool
}

// Marshal writes resources as one ADC-format YAML document: routes, stream
// routes and extra upstreams nested in their service, credentials in their
// consumer, consumers of a group in that group; lists sorted by name and keys
// sorted, as `adc dump` writes them. Load reads the result back into equal
// resources (Key, Name, Parent and Body) when the resources came from Load,
// with WithID or when every ID is the one derived from names. Strings that
// Load would substitute (${VAR}) are escaped so that they stay as they are.
//
// A resource whose parent is not among resources, or of an unknown kind, is
// an error.
func Marshal(resources []Resource, opts MarshalOptions) ([]byte, error) {
	children := make(map[Key][]*Resource)
	present := make(map[Key]bool, len(resources))
	for i := range resources {
		present[resources[i].Key] = true
	}
	var services, ssls, consumers, groups []*Resource
	rules := make(map[string]any)
	metadata := make(map[string]any)
	for i := range resources {
		r := &resources[i]
		switch r.Key.Kind {
		case KindService:
			services = append(services, r)
		case KindSSL:
			ssls = append(ssls, r)
		case KindConsumerGroup:
			groups = append(groups, r)
		case KindConsumer:
			if r.Parent.IsZero() {
				consumers = append(consumers, r)
				continue
			}
			fallthrough
		case KindRoute, KindStreamRoute, KindUpstream, KindCredential:
			if !present[r.Parent] {
				return nil, fmt.Errorf("marshal %s: its parent %s is not among the resources", r.Key, r.Parent)
			}
			children[r.Parent] = append(children[r.Parent], r)
		case KindGlobalRule, KindPluginMetadata:
			body, err := export(r, r.Body)
			if err != nil {
				return nil, err
			}
			if body == nil {
				body = map[string]any{}
			}
			if r.Key.Kind == KindGlobalRule {
				rules[r.Key.ID] = body
			} else {
				metadata[r.Key.ID] = body
			}
		default:
			return nil, fmt.Errorf("marshal %s: unknown kind %q", r.Key, r.Key.Kind)
		}
	}

	m := &marshaller{opts: opts, children: children}
	doc := make(map[string]any)
	var err error
	put := func(key string, list []*Resource, nameField string, nested map[Kind]string) {
		if err != nil || len(list) == 0 {
			return
		}
		var items []any
		items, err = m.list(list, nameField, nested)
		doc[key] = items
	}
	put("services", services, "name", map[Kind]string{KindRoute: "routes", KindStreamRoute: "stream_routes", KindUpstream: "upstreams"})
	put("ssls", ssls, "", nil)
	put("consumers", consumers, "username", map[Kind]string{KindCredential: "credentials"})
	put("consumer_groups", groups, "name", map[Kind]string{KindConsumer: "consumers"})
	if err != nil {
		return nil, err
	}
	if len(rules) > 0 {
		doc["global_rules"] = rules
	}
	if len(metadata) > 0 {
		doc["plugin_metadata"] = metadata
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("marshal: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("marshal: %w", err)
	}
	return buf.Bytes(), nil
}

type marshaller struct {
	opts     MarshalOptions
	children map[Key][]*Resource
}

// childFields says which nested lists each kind holds, for the consumers of
// a group (which hold credentials).
var childFields = map[Kind]map[Kind]string{
	KindConsumer: {KindCredential: "credentials"},
}

// list renders resources sorted by name (then ID), each with its nested
// lists.
func (m *marshaller) list(list []*Resource, nameField string, nested map[Kind]string) ([]any, error) {
	slices.SortFunc(list, func(a, b *Resource) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Key.ID, b.Key.ID))
	})
	out := make([]any, 0, len(list))
	for _, r := range list {
		v, err := export(r, r.Body)
		if err != nil {
			return nil, err
		}
		item, _ := v.(map[string]any)
		if item == nil {
			item = make(map[string]any)
		}
		if nameField != "" {
			if _, ok := item[nameField]; !ok {
				if item[nameField], err = exportString(r, r.Name); err != nil {
					return nil, err
				}
			}
		}
		if m.opts.WithID && r.Key.Kind != KindConsumer {
			item["id"] = r.Key.ID
		}
		kids := m.children[r.Key]
		for kind, field := range nested {
			var these []*Resource
			for _, k := range kids {
				if k.Key.Kind == kind {
					these = append(these, k)
				}
			}
			if len(these) == 0 {
				continue
			}
			name := "name"
			if kind == KindConsumer {
				name = "username"
			}
			if item[field], err = m.list(these, name, childFields[kind]); err != nil {
				return nil, err
			}
		}
		out = append(out, item)
	}
	return out, nil
}

// export deep-copies a body, escaping strings that Load would substitute.
func export(r *Resource, v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if x == nil {
			return nil, nil
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, err := export(r, e)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := export(r, e)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case string:
		return exportString(r, x)
	}
	return v, nil
}

func exportString(r *Resource, s string) (string, error) {
	e, ok := escapeVars(s)
	if !ok {
		return "", fmt.Errorf("marshal %s: a value has a backslash right before ${...}, which ADC's format cannot express", r.Key)
	}
	return e, nil
}
