package model

import (
	"encoding/json"
	"testing"
)

// Fields of an upstream that ADC's format names as APISIX does: a file
// written for ADC loads, and the values reach the body unchanged.
func TestUpstreamFieldsOfADCFormat(t *testing.T) {
	tests := []struct {
		name     string
		upstream string
		want     string // the body's upstream, as JSON
	}{
		{"health check certificate verification",
			"{checks: {active: {type: https, https_verify_certificate: false}}, nodes: [{host: h, port: 443, weight: 1}]}",
			`{"checks":{"active":{"concurrency":10,"http_path":"/","https_verify_certificate":false,"timeout":1,"type":"https"}},"nodes":[{"host":"h","port":443,"priority":0,"weight":1}],"pass_host":"pass","scheme":"http","type":"roundrobin"}`},
		{"health check certificate verification by default",
			"{checks: {active: {type: https}}, nodes: [{host: h, port: 443, weight: 1}]}",
			`{"checks":{"active":{"concurrency":10,"http_path":"/","https_verify_certificate":true,"timeout":1,"type":"https"}},"nodes":[{"host":"h","port":443,"priority":0,"weight":1}],"pass_host":"pass","scheme":"http","type":"roundrobin"}`},
		{"server certificate verification alone",
			"{scheme: https, tls: {verify: true}, nodes: [{host: h, port: 443, weight: 1}]}",
			`{"nodes":[{"host":"h","port":443,"priority":0,"weight":1}],"pass_host":"pass","scheme":"https","tls":{"verify":true},"type":"roundrobin"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := loadString("services:\n  - name: s\n    upstream: " + tt.upstream + "\n")
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(rs[0].Body["upstream"])
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("upstream = %s\nwant       %s", got, tt.want)
			}
		})
	}
}
