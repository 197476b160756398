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
//     version-dependent behaviour: before 3.14 schema defaults are stored
//     (an auth plugin's consumer schema's in consumers and credentials),
//     name length 100 before 3.15 (256 after), one plugin per global rule
//     from 3.15, duplicate auth keys refused from 3.18, "-" in usernames
//     and the filter= list argument from 3.13 (ignored before), POST
//     /configs/validate from 3.17 (before: 404 "Unsupported resource type:
//     configs", inferred from the admin router). Not gated: the credentials
//     API (3.11) and the 401 body's description (3.11).
//   - WithPlugins(names...): the enabled plugins (default DefaultPlugins(),
//     the five of the recorded build). Others answer "unknown plugin [x]".
//   - WithStreamMode(): stream routes on (else every stream_routes request
//     answers 400, as recorded).
//   - WithPersistDefaults(): pre-3.14 default persistence at any version.
//   - WithoutEncryption(): write responses echo secrets in plaintext
//     (data_encryption off). By default they echo the ciphertext, as APISIX
//     (apisix flavour only: the api7ee flavour never encrypts, see "Known
//     differences").
//   - WithLatency(d): per-request delay, cut short when the client gives up.
//   - WithFaults(Faults{Seed, Unavailable, RateLimited, RetryAfter, Hang,
//     Truncate, Reset, Methods, PathPrefix}): seeded error injection (503;
//     429 with Retry-After; a hang until the client's context ends; a body
//     cut in half under a full Content-Length; the same, then a TCP reset).
//   - WithDeleteCheckLag(d): delete checks see references removed less than d
//     ago, reproducing APISIX's "… is still using it now" race.
//   - WithHook(h): a function that may answer a request itself, hang it or
//     reset its connection mid-body (FailTimes and Reject build the common
//     ones: fail a DELETE n times, reject one route's PUT with 400).
//   - WithClock(now): the clock for timestamps, token expiry and the lag.
//   - WithGatewayGroups(names...): api7ee gateway groups (default "default").
//   - WithAPI7Version(v): what api7ee's GET /api/version answers.
//   - WithRequestLogSize(n): how many requests the log keeps.
//   - WithHolderHeader(name): the header recorded as Request.Holder (default
//     X-Reconciler-Holder), to tell replicas apart in leader-election tests.
//
// Control methods, safe for concurrent use: Reset (empty stores, log and
// counters), AddToken, RotateToken (the old value stops working at once),
// RevokeToken, ExpireToken, SetLatency, SetFaults, AddHook (returns a
// remover), Requests (the log: time, method, path with any api_key value
// redacted, status, token identity — the token's name, never the token —,
// duration, fault, User-Agent, holder), Counters (requests by method and
// status, writes, deletes, faults, in flight and its high-water mark),
// MaxInFlight, Count
// (objects in a collection), GatewayGroupID, Save and Load (the store as
// JSON, for `reconciler emulator --state`), Close (releases hung requests;
// later injected hangs return at once).
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
// on write and on delete (?force=true only; an upstream's delete check
// includes the traffic-split plugins of routes, services, plugin configs,
// consumers, consumer groups and global rules, "plugin in route [r] is
// still using it now"), SSL keys stripped on reads and encrypted
// (AES-128-CBC with the default keyring, deterministic) in write
// responses, upstream tls.client_key (standalone or inline) stored
// encrypted when it is PEM, so that GET shows the ciphertext as APISIX
// does (it decrypts plugin fields only: a client that compares it with
// what it sent sees a difference every time), consumer credentials and
// their cascade delete, duplicate auth
// keys, global rule plugin uniqueness, plugin metadata, protos, secrets,
// configs/validate, schema/validate, plugins/list, /plugins/{name} schemas
// with their defaults (?schema_type=consumer: an auth plugin's consumer
// schema; "not found schema" for a plugin without one).
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
// ?ttl=N on a write attaches an etcd lease: the key disappears N seconds
// later (by WithClock's clock) unless rewritten without one.
//
// Not emulated: proto compilation (any content string is accepted), the
// standalone (yaml) config provider, CORS preflight details beyond the
// status and headers recorded, and the encryption keyring's configuration
// (the default keyring always; WithoutEncryption turns encryption off for
// plugin fields, SSL keys and upstream client keys together). Only key-auth's schema is in the
// corpus: the other plugin schemas follow APISIX's sources as far as known,
// with the defaults the 3.13 corpus shows; plugins beyond the five recorded
// ones have looser constraints. The delete-check lag delays only the
// removal of references (the race that matters), not their creation.
//
// # The api7ee flavour: assumptions
//
// No API7 Enterprise server was recorded. The flavour follows ADC's
// backend-api7 (a real client, tested by API7 against 3.5–3.10), the 3.2.14
// OpenAPI document and the docs (reference §2). Where those are silent the
// emulator chooses, and says so here; clients should rely on statuses and
// envelopes, not on the wording of error messages.
//
//   - Tokens travel in the X-API-KEY header or in a cookie named X-API-KEY.
//     APISIX's api_key query and x_api_key cookie are not read, and neither
//     is HTTP Basic auth with a dashboard user (which API7 accepts): the
//     reconciler authenticates with tokens only, so a Basic-auth request is
//     a request without a token. Dashboard login (POST /api/login) and token
//     management under /api/tokens are not served; tokens are made, expired,
//     regenerated and revoked with the control methods. No token, an
//     unknown one or an expired one (ExpireToken) answers 401
//     {"error_msg":"unauthorized: …"}; a viewer token writing answers 403.
//     RotateToken is API7's "regenerate": the old value fails at once.
//   - Tokens starting "a7adm-" are gateway-group admin keys: gateway_group_id
//     is optional with them (the first configured group is used when it is
//     absent). Every other token must pass ?gateway_group_id= on the runtime
//     API: missing → 400 {"error_msg":"gateway_group_id is required"};
//     unknown → 404 {"error_msg":"gateway group not found"}.
//   - Gateway groups (WithGatewayGroups) have the id "default" for the group
//     named default and "gg-<name>" for the others; each has its own store.
//     GET /api/gateway_groups takes ?search= (substring) and ?name= (exact)
//     and answers {"list":[{id,name,description,type,labels,created_at,
//     updated_at}],"total":N}; GET /api/gateway_groups/{id} {"value":{…}}.
//   - GET /api/version answers {"value":"<WithAPI7Version>"}. GET
//     /api/schema/core answers {"value":{route, service, stream_service,
//     upstream, stream_route, consumer, consumer_credential, ssl,
//     global_rule}}: JSON schemas carrying the defaults of reference §2.3
//     (route priority 0 and timeouts 60; service strip_path_prefix true;
//     upstream name "default", type roundrobin, scheme http — tcp for stream
//     services —, hash_on vars, pass_host pass, retry_timeout 0, keepalive
//     320/60/1000, node priority 0, discovery_args {}; ssl type server).
//   - Answers carry no Server and no X-API-VERSION header. GET one:
//     {"value":{…}}; lists: {"list":[objects, not envelopes],"total":N};
//     PUT (create or replace): 200 {"value":{…}}; DELETE: 200 {}; not found:
//     404 {"error_msg":"not found"}; a schema violation: 400 worded as
//     kin-openapi words it, the form ADC's e2e tests show (`Error at
//     "/path_prefix": value must be a string`, `Error at "/name": property
//     "name" is missing`, `… property "uris" is unsupported`); plugin and
//     reference errors keep APISIX's wording.
//   - Stored objects gain id (from the URL; a body's id, route_id,
//     service_id or stream_route_id must match it), created_at and
//     updated_at (unix seconds, server-managed: ignored in bodies) and the
//     scalar defaults above. Nested objects (timeout, keepalive_pool) are
//     not added when absent, as ADC merges defaults, so an ADC-style diff of
//     what was written converges.
//   - Services need a name; type is http or stream. Routes need name, paths
//     (uris, hosts and upstream are refused) and the id of an existing http
//     service; stream routes need a stream service. The service's upstream
//     is inline; GET /services/{id}/upstreams lists it first (with id = the
//     service id) and then the extra upstreams by creation;
//     PUT /services/{id}/upstreams/{service id} replaces the inline one.
//   - Deleting a service deletes its routes, stream routes and extra
//     upstreams; deleting a consumer its credentials. There are no "still
//     using it now" checks. A consumer's credential list is 200 with an
//     empty list when it has none (404 when the consumer is missing).
//   - Lists are unpaged unless page_size (1..1000) is given, with page from
//     1; they are ordered by creation, newest first (direction=asc flips;
//     order_by=updated_at sorts by update time); filters: labels[k]=v
//     (exact, ANDed), service_id (routes, stream routes), search (name
//     substring). GET /plugin_metadata answers one map {"value":{plugin:
//     metadata}}.
//   - Standalone upstreams, plugin configs, consumer groups, protos and
//     secrets are not exposed (404). Write responses echo secrets in
//     plaintext. Every plugin of the catalogue is enabled unless WithPlugins
//     says otherwise. POST /apisix/admin/configs/validate checks items
//     without references and answers 200 {} or 400 {"error_msg":
//     "Configuration validation failed","errors":[{resource_type,index,
//     error}]}. Duplicate auth keys are refused as in APISIX 3.18.
//
// # Known differences
//
// Where the emulator is known to differ from the server it stands for:
//
//   - api7ee: an upstream's tls.client_key (a service's inline upstream and
//     its extra upstreams) is stored and returned on GET in plain text,
//     exactly as written. APISIX stores it encrypted and GET returns the
//     ciphertext (the apisix flavour does the same), and API7 Enterprise's
//     gateway, being APISIX, is expected to as well. A client tested only
//     against the api7ee flavour would not see that the key it reads back
//     differs from the one it wrote: compare keys through a fingerprint
//     (pkg/diff does), never by value, and test key handling against the
//     apisix flavour too. Pinned by TestAPI7ClientKeyReadsBackInPlainText.
//   - api7ee: write responses echo every secret in plain text too (see
//     above); what API7 Enterprise echoes was not recorded.
package emulator
