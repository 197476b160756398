package model

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// crossCheck finds the problems that involve more than one resource, across
// all files: duplicate keys and names, IDs that collide on the gateway,
// references that point nowhere, duplicate auth keys and routes that match
// the same requests.
func crossCheck(decls []decl) Errors {
	var errs Errors
	at := func(d decl, format string, args ...any) {
		errs = append(errs, &Error{File: d.res.Origin.File, Line: d.res.Origin.Line, Resource: d.label, Message: fmt.Sprintf(format, args...)})
	}

	byKey := make(map[Key]int, len(decls))
	type scoped struct{ scope, name string }
	byName := make(map[scoped]int, len(decls))
	for i, d := range decls {
		if j, ok := byName[scoped{d.scope, d.name}]; ok {
			at(d, "declared twice: also at %s", decls[j].res.Origin)
			continue
		}
		byName[scoped{d.scope, d.name}] = i
		if j, ok := byKey[d.res.Key]; ok {
			at(d, "has the same ID %q as %s at %s", d.res.Key.ID, decls[j].label, decls[j].res.Origin)
			continue
		}
		byKey[d.res.Key] = i
	}

	// The other checks look inside bodies: only valid ones.
	if n := countValid(decls); n < len(decls) {
		valid := make([]decl, 0, n)
		for _, d := range decls {
			if d.valid {
				valid = append(valid, d)
			}
		}
		decls = valid
		byKey = make(map[Key]int, len(decls))
		for i, d := range decls {
			if _, ok := byKey[d.res.Key]; !ok {
				byKey[d.res.Key] = i
			}
		}
	}

	// On APISIX a service's inline upstream is stored under the service's
	// ID, in the same collection as the extra upstreams.
	for _, d := range decls {
		if d.res.Key.Kind != KindUpstream {
			continue
		}
		if j, ok := byKey[Key{Kind: KindService, ID: d.res.Key.ID}]; ok {
			at(d, "has the same ID %q as the upstream of %s at %s", d.res.Key.ID, decls[j].label, decls[j].res.Origin)
		}
	}

	// Upstream TLS may reference a client certificate by SSL ID.
	for _, d := range decls {
		u := d.res.Body
		where := "tls.client_cert_id"
		switch d.res.Key.Kind {
		case KindService:
			u, _ = u["upstream"].(map[string]any)
			where = "upstream." + where
		case KindUpstream:
		default:
			continue
		}
		tls, _ := u["tls"].(map[string]any)
		id, ok := tls["client_cert_id"].(string)
		if !ok {
			continue
		}
		j, found := byKey[Key{Kind: KindSSL, ID: id}]
		switch {
		case !found:
			at(d, "%s: no SSL with ID %q is declared", where, id)
		case decls[j].res.Body["type"] != "client":
			at(d, "%s: %s at %s is not of type client", where, decls[j].label, decls[j].res.Origin)
		}
	}

	errs = append(errs, duplicateAuthKeys(decls)...)
	errs = append(errs, duplicateRoutes(decls, byKey)...)
	return errs
}

func countValid(decls []decl) int {
	n := 0
	for _, d := range decls {
		if d.valid {
			n++
		}
	}
	return n
}

// duplicateAuthKeys finds key-auth keys used twice: APISIX refuses the
// second ("duplicate key of plugin key-auth"). Keys are never shown.
func duplicateAuthKeys(decls []decl) Errors {
	var errs Errors
	first := make(map[string]int)
	for i, d := range decls {
		var key string
		switch d.res.Key.Kind {
		case KindCredential:
			if d.res.Body["type"] != "key-auth" {
				continue
			}
			cfg, _ := d.res.Body["config"].(map[string]any)
			key, _ = cfg["key"].(string)
		case KindConsumer:
			plugins, _ := d.res.Body["plugins"].(map[string]any)
			ka, _ := plugins["key-auth"].(map[string]any)
			key, _ = ka["key"].(string)
		default:
			continue
		}
		if key == "" || isSecretRef(key) {
			continue
		}
		if j, ok := first[key]; ok {
			errs = append(errs, &Error{
				File: d.res.Origin.File, Line: d.res.Origin.Line, Resource: d.label,
				Message: fmt.Sprintf("uses the same key-auth key as %s at %s", decls[j].label, decls[j].res.Origin),
			})
			continue
		}
		first[key] = i
	}
	return errs
}

// duplicateRoutes finds two routes that match the same requests: the same
// URI, host (the route's hosts, else its service's) and method, with the same
// priority and the same further conditions. The gateway would pick one of
// them arbitrarily.
func duplicateRoutes(decls []decl, byKey map[Key]int) Errors {
	// The map of signatures is the biggest of a load: it is sized once,
	// from the lengths of the lists.
	total := 0
	for _, d := range decls {
		if d.res.Key.Kind == KindRoute {
			b := d.res.Body
			uris, _ := b["uris"].([]any)
			methods, _ := b["methods"].([]any)
			hosts, _ := b["hosts"].([]any)
			total += len(uris) * max(len(methods), 1) * max(len(hosts), 1)
		}
	}
	var errs Errors
	first := make(map[routeSig]int, total)
	anyHost := []string{anyMatch}
	var parent Key // routes follow their service: its hosts are worked out once
	var parentHosts []string
	for i, d := range decls {
		if d.res.Key.Kind != KindRoute {
			continue
		}
		b := d.res.Body
		hosts := strings1(b["hosts"])
		if hosts == nil {
			if d.res.Parent != parent {
				parent, parentHosts = d.res.Parent, nil
				if j, ok := byKey[parent]; ok {
					parentHosts = strings1(decls[j].res.Body["hosts"])
				}
			}
			hosts = parentHosts
		}
		if hosts == nil {
			hosts = anyHost
		}
		methods := strings1(b["methods"])
		if methods == nil {
			methods = anyHost
		}
		var extra string
		switch {
		case b["vars"] != nil || b["remote_addrs"] != nil || b["filter_func"] != nil:
			x, _ := json.Marshal([]any{b["priority"], b["vars"], b["remote_addrs"], b["filter_func"]}) // JSON values always marshal
			extra = string(x)
		case b["priority"] != nil:
			// The common case, without json's reflection: a priority is a
			// number (the schema says so), written as json would.
			if f, ok := b["priority"].(float64); ok {
				extra = "[" + strconv.FormatFloat(f, 'g', -1, 64) + ",null,null,null]"
			}
		}
		if msg := routeClash(first, i, strings1(b["uris"]), hosts, methods, extra, decls); msg != "" {
			errs = append(errs, &Error{File: d.res.Origin.File, Line: d.res.Origin.Line, Resource: d.label, Message: msg})
		}
	}
	return errs
}

// routeClash records the match signatures of route i and describes the
// first one an earlier route already has.
func routeClash(first map[routeSig]int, i int, uris, hosts, methods []string, extra string, decls []decl) string {
	for _, uri := range uris {
		for _, h := range hosts {
			for _, m := range methods {
				sig := routeSig{uri, h, m, extra}
				j, ok := first[sig]
				if !ok {
					first[sig] = i
					continue
				}
				if j == i {
					continue
				}
				what := "uri " + uri
				if h != anyMatch {
					what += ", host " + h
				}
				if m != anyMatch {
					what += ", method " + m
				}
				return fmt.Sprintf("matches the same requests (%s) as %s at %s", what, decls[j].label, decls[j].res.Origin)
			}
		}
	}
	return ""
}

const anyMatch = "\x00any"

// routeSig is what decides which route a request matches.
type routeSig struct{ uri, host, method, extra string }

// strings1 returns a list of strings, sorted, or nil.
func strings1(v any) []string {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil
	}
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}
