package apply_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitops-gateway/reconciler/pkg/apply"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// More builders of resources in ADC's format, for references.

func ssl(sni, typ string) model.Resource {
	return model.Resource{
		Key:  model.Key{Kind: model.KindSSL, ID: model.SSLID([]string{sni})},
		Name: sni,
		Body: map[string]any{"snis": []any{sni}, "type": typ, "certificates": []any{map[string]any{"certificate": "cert", "key": "key"}}},
	}
}

// withClientCert gives r's upstream (a service's inline one, or r itself
// for an extra upstream) a client certificate by SSL ID.
func withClientCert(r model.Resource, cert model.Resource) model.Resource {
	tls := map[string]any{"client_cert_id": cert.Key.ID}
	if r.Key.Kind == model.KindUpstream {
		return changed(r, "tls", tls)
	}
	up := map[string]any{}
	for k, v := range r.Body["upstream"].(map[string]any) {
		up[k] = v
	}
	up["scheme"], up["tls"] = "https", tls
	return changed(r, "upstream", up)
}

func consumerGroup(name string) model.Resource {
	return model.Resource{
		Key:  model.Key{Kind: model.KindConsumerGroup, ID: model.ConsumerGroupID(name)},
		Name: name,
		Body: map[string]any{"name": name, "plugins": map[string]any{"limit-count": map[string]any{"count": 10.0, "time_window": 60.0}}},
	}
}

// member is a consumer declared inside a group, as model.Load makes it.
func member(name, group string) model.Resource {
	c := consumer(name)
	c.Parent = consumerGroup(group).Key
	return c
}

func streamRoute(svc, name string) model.Resource {
	return model.Resource{
		Key:    model.Key{Kind: model.KindStreamRoute, ID: model.RouteID(svc, name)},
		Name:   name,
		Parent: model.Key{Kind: model.KindService, ID: model.ServiceID(svc)},
		Body:   map[string]any{"name": name, "server_port": 9100.0},
	}
}

// splitTo gives r a traffic-split plugin that sends traffic to the
// upstreams with these IDs.
func splitTo(r model.Resource, ids ...string) model.Resource {
	var wu []any
	for _, id := range ids {
		wu = append(wu, map[string]any{"upstream_id": id, "weight": 1.0})
	}
	return changed(r, "plugins", map[string]any{"traffic-split": map[string]any{
		"rules": []any{map[string]any{"weighted_upstreams": append(wu, map[string]any{"weight": 1.0})}},
	}})
}

// TestReferenceOrder: every reference one resource makes to another is a
// dependency, both ways: the referenced object is written before the
// referrer, and the referrer deleted before the referenced object.
func TestReferenceOrder(t *testing.T) {
	cert := ssl("client.test", "client")
	mtls := withClientCert(service("mtls"), cert)
	mtlsUp := withClientCert(upstream("shop", "mtls"), cert)
	canary := upstream("shop", "canary")
	other := upstream("blog", "blue")
	tests := []struct {
		name      string
		resources []model.Resource
		// writes is the plan of creating resources from nothing; deletes
		// the plan of deleting them all.
		writes, deletes []string
	}{
		{
			name:      "an inline upstream's tls.client_cert_id names an SSL",
			resources: []model.Resource{mtls, cert},
			writes:    []string{"create ssl/client.test", "create service/mtls after:client.test"},
			deletes:   []string{"delete service/mtls", "delete ssl/client.test after:mtls"},
		},
		{
			name:      "an extra upstream's tls.client_cert_id names an SSL",
			resources: []model.Resource{service("shop"), mtlsUp, cert},
			writes:    []string{"create ssl/client.test", "create service/shop", "create upstream/mtls after:client.test after:shop"},
			deletes:   []string{"delete upstream/mtls", "delete service/shop after:mtls", "delete ssl/client.test after:mtls"},
		},
		{
			name:      "a consumer in a group",
			resources: []model.Resource{member("alice", "gold"), consumerGroup("gold")},
			writes:    []string{"create consumer_group/gold", "create consumer/alice after:gold"},
			deletes:   []string{"delete consumer/alice", "delete consumer_group/gold after:alice"},
		},
		{
			name:      "a route's traffic-split names an extra upstream of its service",
			resources: []model.Resource{service("shop"), canary, splitTo(route("shop", "r"), canary.Key.ID)},
			writes:    []string{"create service/shop", "create upstream/canary after:shop", "create route/r after:shop after:canary"},
			deletes:   []string{"delete route/r", "delete upstream/canary after:r", "delete service/shop after:r after:canary"},
		},
		{
			name:      "a route's traffic-split names an extra upstream of another service",
			resources: []model.Resource{service("shop"), service("blog"), other, splitTo(route("shop", "r"), other.Key.ID)},
			writes: []string{
				"create service/blog", "create service/shop",
				"create upstream/blue after:blog", "create route/r after:shop after:blue",
			},
			deletes: []string{
				"delete route/r", "delete upstream/blue after:r",
				"delete service/blog after:blue", "delete service/shop after:r",
			},
		},
		{
			// APISIX refuses to delete an upstream a service's plugin
			// names, and knows an extra upstream's service only by a label:
			// the service goes first.
			name:      "a service's traffic-split names its own extra upstream",
			resources: []model.Resource{splitTo(service("shop"), canary.Key.ID), canary},
			writes:    []string{"create service/shop", "create upstream/canary after:shop"},
			deletes:   []string{"delete upstream/canary after:shop", "delete service/shop"},
		},
		{
			name:      "a service's traffic-split names another service's inline upstream",
			resources: []model.Resource{splitTo(service("shop"), service("blog").Key.ID), service("blog")},
			writes:    []string{"create service/blog", "create service/shop after:blog"},
			deletes:   []string{"delete service/blog after:shop", "delete service/shop"},
		},
		{
			name:      "stream routes and routes in their service, credentials in their consumer",
			resources: []model.Resource{streamRoute("tcp", "s"), service("tcp"), route("tcp", "r"), credential("bob", "k"), consumer("bob")},
			writes: []string{
				"create service/tcp", "create route/r after:tcp", "create stream_route/s after:tcp",
				"create consumer/bob", "create consumer_credential/k after:bob",
			},
			deletes: []string{
				"delete route/r", "delete stream_route/s", "delete service/tcp after:r after:s",
				"delete consumer_credential/k", "delete consumer/bob after:k",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planFor(tt.resources, nil, nil)
			if d := cmp.Diff(tt.writes, stepList(p)); d != "" {
				t.Errorf("writes (-want +got):\n%s\n%s", d, p.Text())
			}
			p = planFor(nil, tt.resources, &allowEmpty)
			if d := cmp.Diff(tt.deletes, stepList(p)); d != "" {
				t.Errorf("deletes (-want +got):\n%s\n%s", d, p.Text())
			}
		})
	}
}

var allowEmpty = apply.Policy{Prune: true, MaxDeletes: -1, MaxDeletePercent: 100, AllowEmpty: true}

// TestReferenceOrderOfChanges: references seen in updates and in live
// bodies count too.
func TestReferenceOrderOfChanges(t *testing.T) {
	server, client := ssl("client.test", "server"), ssl("client.test", "client")
	liveMember := changed(consumer("alice"), "group_id", consumerGroup("gold").Key.ID) // as listed: no parent
	tests := []struct {
		name          string
		desired, live []model.Resource
		want          []string
	}{
		{
			// APISIX checks the SSL's type when the upstream is written.
			name:    "an SSL becomes a client certificate as an upstream starts using it",
			live:    []model.Resource{server, service("mtls")},
			desired: []model.Resource{client, withClientCert(service("mtls"), client)},
			want:    []string{"update ssl/client.test", "update service/mtls after:client.test"},
		},
		{
			name:    "a listed consumer's group_id",
			live:    []model.Resource{liveMember, consumerGroup("gold")},
			desired: []model.Resource{consumer("bob")},
			want:    []string{"create consumer/bob", "delete consumer/alice", "delete consumer_group/gold after:alice"},
		},
		{
			name:    "an upstream that stops using an SSL is updated before the SSL goes",
			live:    []model.Resource{client, withClientCert(service("mtls"), client)},
			desired: []model.Resource{service("mtls")},
			want:    []string{"update service/mtls", "delete ssl/client.test"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planFor(tt.desired, tt.live, nil)
			if d := cmp.Diff(tt.want, stepList(p)); d != "" {
				t.Errorf("plan (-want +got):\n%s\n%s", d, p.Text())
			}
		})
	}
}
