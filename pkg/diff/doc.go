// Package diff compares a desired and a live gateway state in ADC's format
// and reports the changes, field by field.
//
// It is pure: no I/O, no clock, no logging. The pipeline is
//
//	d, err := diff.New(diff.Options{Defaults: serverDefaults, Ignore: rules})
//	cs := d.Compute(desired, live)        // normalises both sides itself
//	out := diff.Text(cs, diff.TextOptions{Color: isTTY})
//
// # Normalisation
//
// Both sides go through the same Normalize, which is idempotent (normalising
// twice changes nothing). It works on a copy; the desired resource that
// apply writes is never altered (except for WriteForm, below).
//
//   - Server-managed fields are dropped: id, create_time, update_time,
//     created_at, updated_at, createdIndex, modifiedIndex (at the top and in
//     an inline upstream).
//   - Aliases: desc → description; on routes uri → uris, host → hosts,
//     remote_addr → remote_addrs (when the plural is absent).
//   - Parent links expressed by nesting in files are dropped: a route's
//     service_id equal to its parent's ID, a service's upstream_id equal to
//     its own ID next to an inline upstream (APISIX's layout), and the inline
//     upstream's name when it is the one the backend gives an unnamed
//     upstream (APISIX: the service's name; API7: "default"). Any other
//     reference or name stays, so it shows as drift.
//     A consumer's group is the exception: a consumer keeps its key when
//     it moves to another group, so its parent group becomes the field
//     group_id on both sides, and a change of group shows as drift. So
//     does a route, stream route or extra upstream whose service differs
//     between the two sides (it keeps its key when moved by hand): both
//     sides then carry their service as service_id. Compute also drops a
//     live inline upstream's name that is the desired service's name when
//     the desired upstream has none (APISIX's name for it, left behind when
//     the service is renamed by hand).
//   - Upstream nodes: the map form {"host:port": weight} becomes the array
//     form; a node without a port gets the scheme's (80 for http/grpc, 443
//     for https/grpcs); nodes are sorted.
//   - Labels: a value holding a JSON array of strings (the wire form) becomes
//     the array.
//   - A credential in the wire shape {plugins: {<type>: config}} becomes
//     {type, config}.
//   - Private keys are dropped: an SSL's (certificates[].key, key, keys),
//     which GET never returns, and an upstream's tls.client_key (extra or
//     inline), which APISIX reads back encrypted. See FingerprintLabel for
//     how a changed key is still noticed: the desired side is compared in
//     its WriteForm, which carries the keys' fingerprint as a label on the
//     object that holds them.
//   - Defaults: Options.Defaults (what the server fills in) and then the
//     built-in defaults every APISIX applies at run time are filled into
//     both sides (scalars where absent, nested objects only where present,
//     array element defaults into every element); plugin defaults into each
//     plugins.<name> and into a global rule, and an auth plugin's consumer
//     schema defaults (Defaults.ConsumerPlugins) instead into a consumer's
//     plugins.<name> and into the config of a credential of that type. A
//     nested object that holds exactly its defaults, all scalars
//     (keepalive_pool, timeout), is dropped as absent.
//   - Absent ≡ null ≡ empty: nulls are dropped everywhere; empty objects,
//     empty arrays and an empty description are dropped from core fields.
//     Inside plugin configurations only nulls are dropped ({} may mean
//     "enabled").
//   - Ignore rules (kind, name glob, JSON pointers with "*") remove fields
//     from both sides.
//   - Set-valued arrays are sorted, last: route uris, hosts, methods,
//     remote_addrs; service hosts; SSL snis, ssl_protocols; upstream nodes.
//
// # Changes and masking
//
// Compute pairs resources by model.Key and returns a ChangeSet in a total
// order (kind in model.Kinds order, consumer, ID). Each Change carries
// field-level changes as JSON pointers with old and new values. Compute of
// a state against itself is empty.
//
// Secrets are masked in the ChangeSet itself, on both sides, so no renderer
// or other consumer can leak them: every Resource.Secrets pointer (values
// from ${VAR}), the secret fields of plugins (key-auth.key,
// basic-auth.password, jwt-auth.secret and private_key, hmac-auth.secret_key,
// csrf.key, and any plugin field named like a secret: password, *_secret,
// *_token, private_key…), in credentials' config, global rules and plugin
// metadata too; SSL keys; upstream tls.client_key, on create and delete
// (updates never compare private keys: a changed one shows as a changed
// fingerprint label, whose value reveals nothing usable). A changed secret
// shows as "[redacted] → [redacted]". Change.Desired and Change.Live hold the
// unmasked resources for apply and are excluded from JSON.
//
// # Renderers
//
// Text (coloured only when asked), JSON (the stable schema documented at
// JSONAPIVersion, with a summary of counts) and Markdown (for pull-request
// comments).
package diff
