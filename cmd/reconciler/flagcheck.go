package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/gitops-gateway/reconciler/internal/reconciler"
)

// A flag that is accepted must work: these checks refuse the values a
// flag's help does not allow, naming the flag, instead of letting a lower
// layer quietly replace them with a default (an empty --managed-by, a zero
// --concurrency or --timeout) or take them to mean something else.

// checkGatewayFlags checks the flags of the Admin API client.
func checkGatewayFlags(g gatewayOptions) error {
	var errs []error
	if g.Backend != "apisix" && g.Backend != "api7ee" {
		errs = append(errs, fmt.Errorf("--backend %q: want apisix or api7ee", g.Backend))
	}
	if g.GatewayGroup == "" {
		errs = append(errs, errors.New("--gateway-group: must not be empty (the default is default)"))
	}
	if g.TokenTransport != "header" && g.TokenTransport != "cookie" {
		errs = append(errs, fmt.Errorf("--token-transport %q: want header or cookie", g.TokenTransport))
	}
	if detail := reconciler.ServerURLProblem(g.Backend, g.Server); detail != "" {
		errs = append(errs, fmt.Errorf("--server %q: %s", g.Server, detail))
	}
	if g.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("--concurrency %d: want 1 or more", g.Concurrency))
	}
	if g.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout %s: want a positive duration such as 10s", g.Timeout))
	}
	switch {
	case g.TokenFile == "" && g.Token.IsZero():
		errs = append(errs, errors.New("--token-file (or --token, or RECONCILER_TOKEN) is required"))
	case g.TokenFile != "" && !g.Token.IsZero():
		errs = append(errs, errors.New("give --token-file or --token, not both"))
	}
	if (g.ClientCertFile == "") != (g.ClientKeyFile == "") {
		errs = append(errs, errors.New("--client-cert and --client-key go together: give both for mutual TLS"))
	}
	return errors.Join(errs...)
}

// checkManagedBy refuses an empty --managed-by, which would otherwise
// become the default "reconciler": another target's objects.
func checkManagedBy(v string) error {
	if v == "" {
		return errors.New("--managed-by: must not be empty (the default is reconciler)")
	}
	return nil
}

// checkSyncFlags checks the flags of what a sync may do.
func checkSyncFlags(y syncOptions) error {
	var errs []error
	if err := checkManagedBy(y.ManagedBy); err != nil {
		errs = append(errs, err)
	}
	if y.MaxDeletePercent < 0 {
		errs = append(errs, fmt.Errorf("--max-delete-percent %g: must be 0 or more (100 lifts the limit)", y.MaxDeletePercent))
	}
	return errors.Join(errs...)
}

// checkShutdownTimeout refuses a negative --shutdown-timeout.
func checkShutdownTimeout(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("--shutdown-timeout %s: must be 0 or more", d)
	}
	return nil
}

// checkListen refuses an empty listen address, which net.Listen takes as
// a random port on every interface.
func checkListen(flag, addr string) error {
	if addr == "" {
		return fmt.Errorf("--%s: must not be empty (an address such as 127.0.0.1:9090)", flag)
	}
	return nil
}

// fieldFlags are the flags of run's flag mode (and the quickstart) that set
// a target's fields, by the field's path in the configuration file.
var fieldFlags = map[string]string{
	"name":                       "--name",
	"source.url":                 "--source",
	"gateway.backend":            "--backend",
	"gateway.server":             "--server",
	"gateway.tokenTransport":     "--token-transport",
	"gateway.concurrency":        "--concurrency",
	"sync.interval":              "--interval",
	"sync.mode":                  "--mode",
	"sync.prune":                 "--prune",
	"sync.maxDeletePercent":      "--max-delete-percent",
	"sync.acceptHistoryRewrite":  "--accept-history-rewrite",
	"sync.deletionGuardOverride": "--deletion-guard-override",
}

// asFlagErrors joins the errors of a target built from flags, naming the
// flag of each field in place of the field.
func asFlagErrors(errs []error) error {
	out := make([]error, 0, len(errs))
	for _, err := range errs {
		var fe *reconciler.FieldError
		if errors.As(err, &fe) {
			if flag, ok := fieldFlags[fe.Field]; ok {
				err = errors.New(flag + fe.Detail)
			}
		}
		out = append(out, err)
	}
	return errors.Join(out...)
}
