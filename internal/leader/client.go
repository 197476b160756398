package leader

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// NewClient returns a client of the Lease API: from the kubeconfig file at
// path, or, when path is empty, from the pod's service account (in-cluster
// configuration).
func NewClient(kubeconfig string) (coordinationv1client.LeasesGetter, error) {
	var (
		cfg *rest.Config
		err error
	)
	if kubeconfig == "" {
		cfg, err = rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("leader election: in-cluster configuration (outside a cluster, give --kubeconfig): %w", err)
		}
	} else {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("leader election: kubeconfig %s: %w", kubeconfig, err)
		}
	}
	cfg.UserAgent = "reconciler"
	c, err := coordinationv1client.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("leader election: client: %w", err)
	}
	return c, nil
}

// serviceAccountNamespace is where Kubernetes mounts the pod's namespace.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// InClusterNamespace is the pod's own namespace, read from its service
// account: where the Leases belong when none is given.
func InClusterNamespace() (string, error) { return namespaceFrom(serviceAccountNamespace) }

func namespaceFrom(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("leader election: the pod's namespace (outside a cluster, give one): %w", err)
	}
	ns := strings.TrimSpace(string(raw))
	if ns == "" {
		return "", fmt.Errorf("leader election: %s is empty", path)
	}
	return ns, nil
}

// observedClient is the Lease client handed to client-go: it notes when a
// write that makes us the holder started, so that the fence can rely on this
// process's own clock as well as on the Lease's timestamps.
type observedClient struct {
	coordinationv1client.LeasesGetter
	e *Elector
}

func (c observedClient) Leases(namespace string) coordinationv1client.LeaseInterface {
	return observedLeases{LeaseInterface: c.LeasesGetter.Leases(namespace), e: c.e}
}

type observedLeases struct {
	coordinationv1client.LeaseInterface
	e *Elector
}

func (l observedLeases) Create(ctx context.Context, lease *coordinationv1.Lease, opts metav1.CreateOptions) (*coordinationv1.Lease, error) {
	start := l.e.cfg.Now()
	out, err := l.LeaseInterface.Create(ctx, lease, opts)
	l.observe(start, out, err)
	return out, err
}

func (l observedLeases) Update(ctx context.Context, lease *coordinationv1.Lease, opts metav1.UpdateOptions) (*coordinationv1.Lease, error) {
	start := l.e.cfg.Now()
	out, err := l.LeaseInterface.Update(ctx, lease, opts)
	l.observe(start, out, err)
	return out, err
}

func (l observedLeases) observe(start time.Time, out *coordinationv1.Lease, err error) {
	if err != nil || out == nil || out.Spec.HolderIdentity == nil || *out.Spec.HolderIdentity != l.e.identity {
		return
	}
	l.e.renewed(start)
}
