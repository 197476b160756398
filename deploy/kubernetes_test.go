package deploy

import (
	"encoding/json"
	"fmt"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// build is one kustomize build, each document decoded.
type build struct {
	namespace string
	docs      []doc
	dep       appsv1.Deployment
	svc       corev1.Service
	role      rbacv1.Role
	binding   rbacv1.RoleBinding
	sa        corev1.ServiceAccount
	ns        corev1.Namespace
	pdb       policyv1.PodDisruptionBudget
	configMap map[string]corev1.ConfigMap
	monitor   map[string]any
	rule      map[string]any
}

type doc struct {
	kind, name, namespace string
	raw                   []byte
	obj                   map[string]any
}

// render builds dir with kustomize's own library (as `kubectl kustomize`
// does) and decodes every document, the built-in kinds strictly into their
// API types, so that a misspelt field fails.
func render(t *testing.T, dir string) build {
	t.Helper()
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	b := build{configMap: map[string]corev1.ConfigMap{}}
	for _, r := range resources.Resources() {
		raw, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		var obj map[string]any
		if err := yaml.Unmarshal(raw, &obj); err != nil {
			t.Fatalf("%s %s: %v", r.GetKind(), r.GetName(), err)
		}
		d := doc{kind: r.GetKind(), name: r.GetName(), namespace: r.GetNamespace(), raw: raw, obj: obj}
		if d.kind == "" || d.name == "" || obj["apiVersion"] == nil {
			t.Errorf("%s: a document without apiVersion, kind or name:\n%s", dir, raw)
		}
		b.docs = append(b.docs, d)
		strict := func(into any) {
			t.Helper()
			if err := yaml.UnmarshalStrict(raw, into); err != nil {
				t.Errorf("%s %s does not decode strictly: %v", d.kind, d.name, err)
				return
			}
			// encoding/json matches field names without regard to case, so a
			// misspelt readOnlyRootFileSystem decodes; the API server would
			// drop it. What the typed object encodes back must hold every
			// field as written.
			back, err := json.Marshal(into)
			if err != nil {
				t.Fatal(err)
			}
			var rt map[string]any
			if err := json.Unmarshal(back, &rt); err != nil {
				t.Fatal(err)
			}
			if p := notIn(obj, rt, ""); p != "" {
				t.Errorf("%s %s: field %s is not a field of the API (misspelt?)", d.kind, d.name, p)
			}
		}
		switch d.kind {
		case "Namespace":
			strict(&b.ns)
			b.namespace = d.name
		case "ServiceAccount":
			strict(&b.sa)
		case "Role":
			strict(&b.role)
		case "RoleBinding":
			strict(&b.binding)
		case "Deployment":
			strict(&b.dep)
		case "Service":
			strict(&b.svc)
		case "PodDisruptionBudget":
			strict(&b.pdb)
		case "ConfigMap":
			var cm corev1.ConfigMap
			strict(&cm)
			b.configMap[d.name] = cm
		case "ServiceMonitor":
			b.monitor = obj
		case "PrometheusRule":
			b.rule = obj
		default:
			t.Errorf("%s: unexpected kind %s (%s)", dir, d.kind, d.name)
		}
	}
	return b
}

func TestKubernetes(t *testing.T) {
	for _, dir := range []string{"kubernetes/base", "kubernetes/overlays/example"} {
		t.Run(dir, func(t *testing.T) {
			b := render(t, dir)
			checkKinds(t, b)
			checkNamespace(t, b)
			checkRBAC(t, b)
			checkPod(t, b)
			checkNoInlineSecrets(t, b)
			checkConfig(t, b)
			checkService(t, b)
			checkMonitoring(t, b)
		})
	}
}

func TestOverlayChangesWhatItSays(t *testing.T) {
	base := render(t, "kubernetes/base")
	ex := render(t, "kubernetes/overlays/example")
	if ex.namespace == base.namespace {
		t.Errorf("the overlay's namespace is still %s", base.namespace)
	}
	bi, ei := base.dep.Spec.Template.Spec.Containers[0].Image, ex.dep.Spec.Template.Spec.Containers[0].Image
	if bi == ei {
		t.Errorf("the overlay's image is the base's %s: its images: entry matches nothing", bi)
	}
	if !strings.HasPrefix(ei, "registry.example.com/") {
		t.Errorf("overlay image %s", ei)
	}
	if !slices.Contains(ex.dep.Spec.Template.Spec.Containers[0].Args, "--webhook-secret-file=/var/run/secrets/webhook/secret") {
		t.Error("the overlay's webhook secret argument is missing")
	}
	for _, obj := range []map[string]any{ex.monitor, ex.rule} {
		if lookup(obj, "metadata", "labels", "release") != "kube-prometheus-stack" {
			t.Errorf("%s lacks the overlay's release label", lookup(obj, "kind"))
		}
	}
}

func checkKinds(t *testing.T, b build) {
	t.Helper()
	var kinds []string
	for _, d := range b.docs {
		kinds = append(kinds, d.kind)
	}
	for _, want := range []string{"Namespace", "ServiceAccount", "Role", "RoleBinding", "Deployment", "ConfigMap",
		"Service", "ServiceMonitor", "PrometheusRule", "PodDisruptionBudget"} {
		if !slices.Contains(kinds, want) {
			t.Errorf("no %s in the build", want)
		}
	}
}

func checkNamespace(t *testing.T, b build) {
	t.Helper()
	if b.namespace == "" {
		t.Fatal("no Namespace")
	}
	if got := b.ns.Labels["pod-security.kubernetes.io/enforce"]; got != "restricted" {
		t.Errorf("namespace pod security %q, want restricted", got)
	}
	for _, d := range b.docs {
		if d.kind != "Namespace" && d.namespace != b.namespace {
			t.Errorf("%s %s is in namespace %q, want %q", d.kind, d.name, d.namespace, b.namespace)
		}
	}
}

func checkRBAC(t *testing.T, b build) {
	t.Helper()
	want := []rbacv1.PolicyRule{{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}}}
	if diff := cmp.Diff(want, b.role.Rules); diff != "" {
		t.Errorf("Role rules: leases only (-want +got):\n%s", diff)
	}
	if b.binding.RoleRef.Kind != "Role" || b.binding.RoleRef.Name != b.role.Name {
		t.Errorf("RoleBinding refers to %s %s", b.binding.RoleRef.Kind, b.binding.RoleRef.Name)
	}
	wantSubject := []rbacv1.Subject{{Kind: "ServiceAccount", Name: b.sa.Name, Namespace: b.namespace}}
	if diff := cmp.Diff(wantSubject, b.binding.Subjects); diff != "" {
		t.Errorf("RoleBinding subjects (-want +got):\n%s", diff)
	}
	if got := b.dep.Spec.Template.Spec.ServiceAccountName; got != b.sa.Name {
		t.Errorf("pods run as service account %q, want %q", got, b.sa.Name)
	}
}

func checkPod(t *testing.T, b build) {
	t.Helper()
	spec := b.dep.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	if len(spec.InitContainers) > 0 || len(spec.EphemeralContainers) > 0 {
		t.Error("init or ephemeral containers: check their security context too")
	}
	c := spec.Containers[0]
	psc := spec.SecurityContext
	if psc == nil || !isTrue(psc.RunAsNonRoot) || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod security context %+v: want runAsNonRoot and a non-zero runAsUser", psc)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("pod seccomp profile is not RuntimeDefault")
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		t.Error("the pod shares a host namespace")
	}
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Fatal("container has no security context")
	case !isTrue(sc.ReadOnlyRootFilesystem):
		t.Error("root filesystem is writable")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("privilege escalation is allowed")
	case isTrue(sc.Privileged):
		t.Error("container is privileged")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
		t.Errorf("capabilities %+v: want drop [ALL] and nothing added", sc.Capabilities)
	case sc.RunAsUser != nil && *sc.RunAsUser == 0:
		t.Error("container runs as root")
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("no %s request", r)
		}
		if _, ok := c.Resources.Limits[r]; !ok {
			t.Errorf("no %s limit", r)
		}
	}
	if strings.HasSuffix(c.Image, ":latest") || !strings.Contains(path.Base(c.Image), ":") && !strings.Contains(c.Image, "@sha256:") {
		t.Errorf("image %s: pin a tag or a digest", c.Image)
	}

	// The daemon's contract (design §3, §9): flags, port, probes.
	for _, want := range []string{"run", "--config=/etc/reconciler/config.yaml", "--listen=0.0.0.0:9090", "--leader-elect"} {
		if !slices.Contains(c.Args, want) {
			t.Errorf("args %v lack %s", c.Args, want)
		}
	}
	if len(c.Command) > 0 {
		t.Errorf("command %v overrides the image's entrypoint", c.Command)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 9090 || c.Ports[0].Name != "http" {
		t.Errorf("ports %+v: want http 9090", c.Ports)
	}
	probe := func(name string, p *corev1.Probe, path string) {
		t.Helper()
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe %+v: want GET %s on port http", name, p, path)
		}
	}
	probe("liveness", c.LivenessProbe, "/healthz")
	probe("readiness", c.ReadinessProbe, "/readyz")
	if *b.dep.Spec.Replicas > 1 && !slices.Contains(c.Args, "--leader-elect") {
		t.Error("several replicas without --leader-elect: two writers per target")
	}
	if *b.dep.Spec.Replicas == 1 && b.dep.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Error("one replica with a rolling update: old and new pod write at once")
	}
	if b.pdb.Spec.Selector == nil || !matches(b.pdb.Spec.Selector.MatchLabels, b.dep.Spec.Template.Labels) {
		t.Error("the PodDisruptionBudget does not select the pods")
	}

	// Secrets are mounted as whole directories: no subPath (it would pin
	// the file and rotation would never reach the pod), read-only.
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	mounted := map[string]bool{}
	for _, m := range c.VolumeMounts {
		v, ok := volumes[m.Name]
		if !ok {
			t.Errorf("mount %s: no such volume", m.Name)
			continue
		}
		mounted[m.Name] = true
		if v.Secret != nil || v.ConfigMap != nil || v.Projected != nil {
			if m.SubPath != "" || m.SubPathExpr != "" {
				t.Errorf("volume %s is mounted with subPath: rotation would not reach the pod", m.Name)
			}
			if !m.ReadOnly {
				t.Errorf("volume %s is mounted writable", m.Name)
			}
		}
		if v.Secret != nil && !strings.HasPrefix(m.MountPath, "/var/run/secrets/") {
			t.Errorf("secret %s is mounted at %s, want under /var/run/secrets/", v.Secret.SecretName, m.MountPath)
		}
	}
	for name, v := range volumes {
		if !mounted[name] {
			t.Errorf("volume %s is not mounted", name)
		}
		if v.Secret != nil && (v.Secret.DefaultMode == nil || *v.Secret.DefaultMode&0o007 != 0) {
			t.Errorf("secret volume %s is readable by others: defaultMode %v", name, v.Secret.DefaultMode)
		}
		if v.HostPath != nil {
			t.Errorf("volume %s is a hostPath", name)
		}
	}
	for _, want := range []string{"reconciler-api7-token", "reconciler-git-credentials"} {
		found := false
		for _, v := range volumes {
			found = found || v.Secret != nil && v.Secret.SecretName == want
		}
		if !found {
			t.Errorf("Secret %s is not mounted", want)
		}
	}
	cache := false
	for _, m := range c.VolumeMounts {
		if v := volumes[m.Name]; v.EmptyDir != nil && slices.Contains(c.Args, "--git-cache-dir="+m.MountPath+"/git") {
			cache = true
		}
	}
	if !cache {
		t.Error("the Git cache (--git-cache-dir) is not on an emptyDir")
	}
}

// secretKey names configuration keys and environment variables whose value
// would be a secret itself.
var secretKey = regexp.MustCompile(`(?i)^(.*[_-])?(.*token|.*password|passwd|.*secret|private_?key|passphrase|api_?key|key|credentials?)$`)

func checkNoInlineSecrets(t *testing.T, b build) {
	t.Helper()
	for _, d := range b.docs {
		if d.kind == "Secret" {
			t.Errorf("Secret %s is in the manifests: create it out of band", d.name)
		}
		if strings.Contains(string(d.raw), "-----BEGIN") {
			t.Errorf("%s %s holds a PEM block", d.kind, d.name)
		}
	}
	c := b.dep.Spec.Template.Spec.Containers[0]
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			t.Errorf("env %s comes from a Secret: a variable never sees a rotation; mount a file", e.Name)
		}
		if e.Value != "" && secretKey.MatchString(e.Name) {
			t.Errorf("env %s has a literal value", e.Name)
		}
	}
	if len(c.EnvFrom) > 0 {
		t.Error("envFrom: mount files instead")
	}
	for _, a := range c.Args {
		if strings.HasPrefix(a, "--token") && !strings.HasPrefix(a, "--token-file") && !strings.HasPrefix(a, "--token-transport") {
			t.Errorf("argument %s puts the token on the command line", a)
		}
	}
}

// checkConfig reads the daemon's configuration from its ConfigMap and
// checks that every file it names is on a mounted volume (a Secret one for
// anything under /var/run/secrets/) and that no secret is written inline.
func checkConfig(t *testing.T, b build) {
	t.Helper()
	spec := b.dep.Spec.Template.Spec
	c := spec.Containers[0]
	var cmName string
	mounts := map[string]corev1.Volume{} // mount path → volume
	for _, m := range c.VolumeMounts {
		for _, v := range spec.Volumes {
			if v.Name == m.Name {
				mounts[m.MountPath] = v
				if v.ConfigMap != nil && m.MountPath == "/etc/reconciler" {
					cmName = v.ConfigMap.Name
				}
			}
		}
	}
	cm, ok := b.configMap[cmName]
	if !ok {
		t.Fatalf("the config volume refers to ConfigMap %q, which the build does not have", cmName)
	}
	text, ok := cm.Data["config.yaml"]
	if !ok {
		t.Fatalf("ConfigMap %s has no config.yaml", cmName)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatalf("config.yaml: %v", err)
	}
	targets, _ := cfg["targets"].([]any)
	if len(targets) == 0 {
		t.Error("config.yaml has no targets")
	}
	var files []string
	walk(cfg, "", func(key, where string, v any) {
		s, isString := v.(string)
		if strings.HasSuffix(key, "File") && isString {
			files = append(files, s)
		}
		if secretKey.MatchString(key) && isString {
			t.Errorf("config.yaml %s: a secret written inline; name a file (%sFile) instead", where, key)
		}
	})
	for _, a := range c.Args {
		if name, p, ok := strings.Cut(a, "="); ok && strings.HasSuffix(name, "-file") {
			files = append(files, p)
		}
	}
	if len(files) == 0 {
		t.Error("the configuration names no files: where do the tokens come from?")
	}
	for _, f := range files {
		mount, v, ok := mountOf(mounts, f)
		if !ok {
			t.Errorf("file %s is on no mounted volume", f)
			continue
		}
		if strings.HasPrefix(f, "/var/run/secrets/") && v.Secret == nil {
			t.Errorf("file %s is under %s, which is not a Secret volume", f, mount)
		}
	}
}

func mountOf(mounts map[string]corev1.Volume, file string) (string, corev1.Volume, bool) {
	for p, v := range mounts {
		if strings.HasPrefix(file, p+"/") {
			return p, v, true
		}
	}
	return "", corev1.Volume{}, false
}

// walk calls fn for every key of every map in v, with its path.
func walk(v any, where string, fn func(key, where string, v any)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			fn(k, where+"/"+k, e)
			walk(e, where+"/"+k, fn)
		}
	case []any:
		for i, e := range x {
			walk(e, fmt.Sprintf("%s[%d]", where, i), fn)
		}
	}
}

func checkService(t *testing.T, b build) {
	t.Helper()
	if !matches(b.svc.Spec.Selector, b.dep.Spec.Template.Labels) {
		t.Errorf("Service selector %v does not select the pods %v", b.svc.Spec.Selector, b.dep.Spec.Template.Labels)
	}
	if len(b.svc.Spec.Ports) != 1 || b.svc.Spec.Ports[0].Port != 9090 || b.svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("Service ports %+v: want 9090 → http", b.svc.Spec.Ports)
	}
	if !b.svc.Spec.PublishNotReadyAddresses {
		t.Error("Service drops not-ready pods: their metrics (why they are not ready) would not be scraped")
	}
}

func checkMonitoring(t *testing.T, b build) {
	t.Helper()
	sel, _ := lookup(b.monitor, "spec", "selector", "matchLabels").(map[string]any)
	labels := map[string]string{}
	for k, v := range sel {
		labels[k] = fmt.Sprint(v)
	}
	if len(labels) == 0 || !matches(labels, b.svc.Labels) {
		t.Errorf("ServiceMonitor selector %v does not select the Service %v", labels, b.svc.Labels)
	}
	eps, _ := lookup(b.monitor, "spec", "endpoints").([]any)
	if len(eps) != 1 || lookup(eps[0], "port") != b.svc.Spec.Ports[0].Name || lookup(eps[0], "path") != "/metrics" {
		t.Errorf("ServiceMonitor endpoints %v: want port %s, path /metrics", eps, b.svc.Spec.Ports[0].Name)
	}

	// The PrometheusRule carries exactly the rules of alerts.yaml.
	spec, err := yaml.Marshal(lookup(b.rule, "spec"))
	if err != nil {
		t.Fatal(err)
	}
	var got RuleFile
	if err := yaml.UnmarshalStrict(spec, &got); err != nil {
		t.Fatalf("PrometheusRule spec: %v", err)
	}
	want, err := Alerts()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PrometheusRule differs from prometheus/alerts.yaml (-alerts.yaml +PrometheusRule):\n%s", diff)
	}
}

// notIn returns the path of the first value of a that b lacks or holds
// differently, or "" when b holds all of a.
func notIn(a, b any, where string) string {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return where
		}
		for k, v := range x {
			if p := notIn(v, y[k], where+"."+k); p != "" {
				return p
			}
		}
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return where
		}
		for i := range x {
			if p := notIn(x[i], y[i], fmt.Sprintf("%s[%d]", where, i)); p != "" {
				return p
			}
		}
	default:
		if !reflect.DeepEqual(a, b) {
			return where
		}
	}
	return ""
}

func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func isTrue(b *bool) bool { return b != nil && *b }

// lookup follows keys through nested maps; nil when a step is missing.
func lookup(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
