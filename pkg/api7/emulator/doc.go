// Package emulator is an in-process Admin API for Apache APISIX 3.x and
// API7 Enterprise: an http.Handler with an in-memory store, faithful to the
// real server as recorded in testdata/conformance (APISIX 3.18 and 3.13,
// and ADC 0.28's traffic), with switches for fault injection. Every test,
// benchmark and the quickstart runs against it.
//
// # Use
//
//	em, err := emulator.New(
//		emulator.WithAdminToken("admin-secret"),
//		emulator.WithViewerToken("viewer-secret"),
//	)
//	srv := httptest.NewServer(em)
//	defer srv.Close()
//	defer em.Close() // releases injected hangs before srv.Close waits for them
//
// Options (all optional):
//
//   - WithBackend(BackendAPISIX | BackendAPI7EE): the flavour (default apisix).
//   - WithAdminToken(t), WithViewerToken(t), WithToken(name, t, role): keys.
//     A viewer may only GET. Without any key every request is refused (401),
//     unless WithoutAuth (APISIX's admin_key_required: false).
//   - WithAPISIXVersion("3.18.0"): the Server header (ADC parses it) and
//     version-dependent behaviour: before 3.14 schema defaults are stored,
//     name length 100 before 3.15 (256 after), one plugin per global rule
//     from 3.15, duplicate auth keys refused from 3.18, "-" in usernames
//     from 3.13.
//   - WithPlugins(names...): the enabled plugins (default DefaultPlugins(),
//     the five of the recorded build). Others answer "unknown plugin [x]".
//   - WithStreamMode(): stream routes on (else every stream_routes request
//     answers 400, as recorded).
//   - WithPersistDefaults(): pre-3.14 default persistence at any version.
//   - WithoutEncryption(): write responses echo secrets in plaintext
//     (data_encryption off). By default they echo the ciphertext, as APISIX.
//   - WithLatency(d): per-request delay, cut short when the client gives up.
//   - WithFaults(Faults{Seed, Unavailable, RateLimited, RetryAfter, Hang,
//     Truncate, Methods, PathPrefix}): seeded error injection (503; 429 with
//     Retry-After; a hang until the client's context ends; a body cut in
//     half under a full Content-Length).
//   - WithDeleteCheckLag(d): delete checks see references removed less than d
//     ago, reproducing APISIX's "… is still using it now" race.
//   - WithHook(h): a function that may answer a request itself (FailTimes and
//     Reject build the common ones: fail a DELETE n times, reject one route's
//     PUT with 400).
//   - WithClock(now): the clock for timestamps, token expiry and the lag.
//   - WithGatewayGroups(names...): api7ee gateway groups (default "default").
//   - WithAPI7Version(v): what api7ee's GET /api/version answers.
//   - WithRequestLogSize(n): how many requests the log keeps.
//
// Control methods, safe for concurrent use: Reset (empty stores, log and
// counters), AddToken, RotateToken (the old value stops working at once),
// RevokeToken, ExpireToken, SetLatency, SetFaults, AddHook (returns a
// remover), Requests (the log: time, method, path with any api_key value
// redacted, status, token identity — the token's name, never the token —,
// duration, fault), Counters (requests by method and status, writes,
// deletes, faults, in flight and its high-water mark), MaxInFlight, Count
// (objects in a collection), GatewayGroupID, Save and Load (the store as
// JSON, for `reconciler emulator --state`), Close (releases hung requests).
//
// # Fidelity (apisix flavour)
//
// The emulator replays the whole corpus: auth (query api_key, then header
// X-API-KEY, then cookie x_api_key; the exact 401 bodies, without
// X-API-VERSION), v3 envelopes, 201/200 on PUT, POST ids (20 digits, one
// revision consumed), PATCH merge and sub-path replace, DELETE bodies, the
// etcd-style 404, 405 per resource, one global revision (the first object
// gets 15, as after `apisix init`), create_time/update_time handling, id
// rules and JSON type preservation, list order (key order; createdIndex
// order when paged; {} for an empty page), filters, validation messages
// worded as APISIX's JSON-schema validator words them, references checked
// on write and on delete (?force=true only), SSL keys stripped on reads and
// encrypted (AES-128-CBC with the default keyring, deterministic) in write
// responses, consumer credentials and their cascade delete, duplicate auth
// keys, global rule plugin uniqueness, plugin metadata, protos, secrets,
// configs/validate, schema/validate, plugins/list, /plugins/{name} schemas
// with their defaults.
//
// Decisions on the corpus steps tagged nginx-html and quirk — all are
// reproduced:
//   - TRACE answers nginx's HTML 405 with "Server: nginx"; GET /apisix/admin
//     nginx's HTML 404; GET /apisix/admin/ (a Lua error in APISIX's router)
//     nginx's HTML 500; HEAD on anything but /apisix/admin an empty HTML 404.
//   - A PUT or POST body that is JSON null, a string or a number crashes
//     APISIX's handler: the emulator answers the same HTML 500.
//   - An SSL certificate with an unrelated private key is accepted: like
//     APISIX, the emulator parses both but does not check they are a pair.
//
// Not emulated: etcd leases (?ttl=), proto compilation (any content string
// is accepted), traffic-split references in upstream delete checks, the
// standalone (yaml) config provider, HTTP Basic auth.
package emulator
