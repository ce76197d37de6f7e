package configtranslate

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/courier-otel/courier/pkg/structuredlog"
)

// The transmitter's fixed backoff (SPEC.md B.7): 1 s, 2 s, 4 s … capped at
// 4096 s.
const (
	transmitterInitialBackoff = "1s"
	transmitterMaxBackoff     = "4096s"
	defaultSeekTag            = "seek"
	// exporterQueueSize is the cloudevents exporter's default
	// sending_queue::queue_size; a batch larger than it would be refused.
	exporterQueueSize = 20000
	maxThresholdDays  = 36500 // old_events' bound
	omniverseLogGlob  = "${env:HOME}/.nvidia-omniverse/logs/*.log"
)

// eventProtocols maps the transmitter's eventProtocol (case-insensitive) to
// the cloudevents exporter's encoding.
var eventProtocols = map[string]string{
	"default":              "jsonl",
	"defaultwithstringify": "jsonl_stringify",
	"defaultwithlist":      "json_list",
	"nvdf":                 "nvdf",
}

// transmitter holds the settings of one transmitter object that were set,
// each with the path it was read from.
type transmitter struct {
	label string // the object's settings path, for messages

	endpoints           []string
	schemasURLs         []string
	authenticate        *bool
	authTokenURL        *string
	authTokenKeyName    *string
	authTokenExpiryName *string
	authTokenType       *string
	oldEventsThreshold  *int64
	ignoreOldEvents     *bool
	pseudonymize        *bool
	encoding            *string
	seekTagName         *string
	retryLimit          *int64
	messageMatchMode    *string
	resendEvents        *bool
	transmissionLimit   *int64
	queueLimit          *int64

	src map[string]string // setting name → path it was read from
}

func ptr[T any](v T) *T { return &v }

// parseTransmitter reads the transmitter settings present in o (a transmitter
// object, or /telemetry itself for the legacy top-level settings) and leaves
// the other keys unread.
func parseTransmitter(o *object) *transmitter {
	t := &transmitter{label: o.path, src: map[string]string{}}
	r := o.r
	got := func(key string) { t.src[key] = o.keyPath(key) }

	if eps, ok := o.strs("endpoint"); ok {
		if checkEndpoints(r, o.keyPath("endpoint"), eps) {
			t.endpoints = eps
			got("endpoint")
		}
	}
	if urls, ok := o.strs("schemasUrl"); ok {
		if len(urls) == 0 || slices.Contains(urls, "") {
			r.errorf(o.keyPath("schemasUrl"), "must name at least one URL or path, and no empty one")
		} else {
			t.schemasURLs = urls
			got("schemasUrl")
		}
	}
	boolean := func(key string, dst **bool) {
		if v, ok := o.boolean(key); ok {
			*dst = ptr(v)
			got(key)
		}
	}
	str := func(key string, dst **string) {
		if v, ok := o.str(key); ok {
			*dst = ptr(v)
			got(key)
		}
	}
	integer := func(key string, dst **int64, lowest int64, highest int64) {
		if v, ok := o.integer(key); ok {
			if v < lowest || v > highest {
				r.errorf(o.keyPath(key), "must be between %d and %d, got %d", lowest, highest, v)
				return
			}
			*dst = ptr(v)
			got(key)
		}
	}
	boolean("authenticate", &t.authenticate)
	if v, ok := o.str("authTokenUrl"); ok {
		if v == "" {
			r.errorf(o.keyPath("authTokenUrl"), "must not be empty")
		} else {
			t.authTokenURL = ptr(v)
			got("authTokenUrl")
		}
	}
	str("authTokenKeyName", &t.authTokenKeyName)
	str("authTokenExpiryName", &t.authTokenExpiryName)
	if v, ok := o.str("authTokenType"); ok {
		switch typ := strings.ToLower(v); typ {
		case "auto", "jwt":
			t.authTokenType = ptr(typ)
			got("authTokenType")
		case "api-key", "api_key":
			t.authTokenType = ptr("api_key")
			got("authTokenType")
		default:
			r.errorf(o.keyPath("authTokenType"), "%q is not one of auto, jwt, api-key", v)
		}
	}
	integer("oldEventsThreshold", &t.oldEventsThreshold, 0, maxThresholdDays)
	boolean("ignoreOldEvents", &t.ignoreOldEvents)
	boolean("pseudonymizeOldEvents", &t.pseudonymize)
	if v, ok := o.str("eventProtocol"); ok {
		if enc, known := eventProtocols[strings.ToLower(v)]; known {
			t.encoding = ptr(enc)
			got("eventProtocol")
		} else {
			r.errorf(o.keyPath("eventProtocol"), "unsupported protocol %q (want default, defaultWithStringify, defaultWithList or NVDF)", v)
		}
	}
	if v, ok := o.str("seekTagName"); ok {
		if err := structuredlog.CheckSeekTagName(v); err != nil {
			r.errorf(o.keyPath("seekTagName"), "%v", err)
		} else {
			t.seekTagName = ptr(v)
			got("seekTagName")
		}
	}
	integer("retryLimit", &t.retryLimit, -1, 1<<31-1)
	if v, ok := o.str("messageMatchMode"); ok {
		if err := checkMatchMode(v); err != nil {
			r.errorf(o.keyPath("messageMatchMode"), "%v", err)
		} else {
			t.messageMatchMode = ptr(v)
			got("messageMatchMode")
		}
	}
	boolean("resendEvents", &t.resendEvents)
	integer("transmissionLimit", &t.transmissionLimit, 1, 1<<31-1)
	integer("queueLimit", &t.queueLimit, 1, 1<<31-1)
	return t
}

// inherit fills the settings t lacks from the legacy /telemetry/* ones,
// which apply to every transmitter object that does not set its own.
func (t *transmitter) inherit(d *transmitter) {
	if t.endpoints == nil {
		t.endpoints = d.endpoints
	}
	if t.schemasURLs == nil {
		t.schemasURLs = d.schemasURLs
	}
	fill(&t.authenticate, d.authenticate)
	fill(&t.authTokenURL, d.authTokenURL)
	fill(&t.authTokenKeyName, d.authTokenKeyName)
	fill(&t.authTokenExpiryName, d.authTokenExpiryName)
	fill(&t.authTokenType, d.authTokenType)
	fill(&t.oldEventsThreshold, d.oldEventsThreshold)
	fill(&t.ignoreOldEvents, d.ignoreOldEvents)
	fill(&t.pseudonymize, d.pseudonymize)
	fill(&t.encoding, d.encoding)
	fill(&t.seekTagName, d.seekTagName)
	fill(&t.retryLimit, d.retryLimit)
	fill(&t.messageMatchMode, d.messageMatchMode)
	fill(&t.resendEvents, d.resendEvents)
	fill(&t.transmissionLimit, d.transmissionLimit)
	fill(&t.queueLimit, d.queueLimit)
	for k, p := range d.src {
		if _, ok := t.src[k]; !ok {
			t.src[k] = p
		}
	}
}

func fill[T any](dst **T, from *T) {
	if *dst == nil {
		*dst = from
	}
}

// setting is the path a setting of t was read from, or where it would be.
func (t *transmitter) setting(key string) string {
	if p, ok := t.src[key]; ok {
		return p
	}
	return t.label + "/" + key
}

// from is the path a setting of t was read from, "" when it is not set: the
// comment on the key it became.
func (t *transmitter) from(key string) string { return t.src[key] }

// transmitterKeys are the settings of a transmitter object (the seed's list).
var transmitterKeys = []string{
	"endpoint", "schemasUrl", "authenticate", "authTokenUrl", "authTokenKeyName",
	"authTokenExpiryName", "authTokenType", "oldEventsThreshold", "ignoreOldEvents",
	"pseudonymizeOldEvents", "eventProtocol", "seekTagName", "retryLimit",
	"messageMatchMode", "resendEvents", "transmissionLimit", "queueLimit",
}

// telemetryKeys are the /telemetry settings other than the transmitter
// objects and the legacy transmitter settings.
var telemetryKeys = []string{
	"transmitter", "mode", "pollTime", "log", "stayAlive", "allowRoot",
	"restrictedRegions", "restrictedRegionAssumption",
}

// Omniverse translates an Omniverse telemetry transmitter settings file into a
// Courier config: per transmitter object one structured_log receiver (its own
// seek tag), schema_validation and old_events processors, a cloudevents
// exporter and a pipeline, sharing schema_registry and auth_token extensions
// where their settings are the same. name is the file's name: ".toml" files
// are read as TOML, others as JSON (comments and trailing commas allowed, as
// Carbonite's parser does).
func Omniverse(data []byte, name string) (*Result, error) {
	raw, err := decodeSettings(data, name)
	if err != nil {
		return nil, err
	}
	doc, isMap := raw.(map[string]any)
	if !isMap {
		return nil, fmt.Errorf("the settings must be an object, got %s", describe(raw))
	}
	r := &report{}
	top := newObject(r, "", "/", doc)
	tel, ok := telemetryRoot(top)
	if !ok {
		return nil, errors.New(`no /telemetry settings: want {"telemetry": {"transmitter": …}}`)
	}
	for _, k := range top.unread() {
		r.warnf(top.keyPath(k), "not a /telemetry setting, not translated")
	}

	g := omniverseGlobals(tel)
	legacy := parseTransmitter(tel)
	var txs []*transmitter
	if v, set := tel.get("transmitter"); set {
		txs = transmitterObjects(tel, v)
	} else if len(legacy.src) > 0 {
		legacy.label = "/telemetry"
		txs = []*transmitter{legacy}
	}
	tel.warnUnknown()
	if err := r.err(); err != nil {
		return nil, err
	}
	if len(txs) == 0 {
		return nil, errors.New("no transmitter objects: set /telemetry/transmitter (an object or an array of objects) or the legacy /telemetry/endpoint")
	}
	for _, t := range txs {
		if t != legacy {
			t.inherit(legacy)
		}
		if t.endpoints == nil {
			r.errorf(t.setting("endpoint"), "not set: the transmitter's default endpoint (NVIDIA's, chosen by /telemetry/mode) is not known here")
		}
	}
	if err := r.err(); err != nil {
		return nil, err
	}
	return buildOmniverse(r, name, g, txs)
}

func decodeSettings(data []byte, name string) (any, error) {
	if strings.EqualFold(filepath.Ext(name), ".toml") {
		var m map[string]any
		if err := toml.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("not TOML: %w", err)
		}
		return normalize(m)
	}
	v, err := decodeRelaxedJSON(data)
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	return normalize(v)
}

// telemetryRoot finds /telemetry: the "telemetry" member of the document, or
// the document itself when it holds /telemetry settings directly.
func telemetryRoot(top *object) (*object, bool) {
	if top.has("telemetry") {
		tel, ok := top.obj("telemetry")
		if !ok {
			return newObject(top.r, "/telemetry", "/", nil), true // the type error is reported
		}
		tel.path = "/telemetry"
		return tel, true
	}
	for k := range top.m {
		if slices.Contains(transmitterKeys, k) || slices.Contains(telemetryKeys, k) {
			for k := range top.m {
				top.seen[k] = true
			}
			return newObject(top.r, "/telemetry", "/", top.m), true
		}
	}
	return nil, false
}

// transmitterObjects reads /telemetry/transmitter: one object or an array.
func transmitterObjects(tel *object, v any) []*transmitter {
	path := tel.keyPath("transmitter")
	var txs []*transmitter
	read := func(p string, m map[string]any) {
		o := newObject(tel.r, p, "/", m)
		txs = append(txs, parseTransmitter(o))
		o.warnUnknown()
	}
	switch x := v.(type) {
	case map[string]any:
		read(path, x)
	case []any:
		for i, e := range x {
			m, isMap := e.(map[string]any)
			if !isMap {
				tel.r.errorf(fmt.Sprintf("%s/%d", path, i), "want a transmitter object, got %s", describe(e))
				continue
			}
			read(fmt.Sprintf("%s/%d", path, i), m)
		}
	default:
		tel.r.errorf(path, "want an object or an array of objects, got %s", describe(v))
	}
	return txs
}

// globals are the /telemetry settings that apply to every transmitter.
type globals struct {
	mode         string // structured_log mode, "" = the default (prod)
	pollInterval string // structured_log poll_interval, "" = the default
}

func omniverseGlobals(tel *object) globals {
	var g globals
	r := tel.r
	if v, ok := tel.str("mode"); ok {
		switch m := strings.ToLower(v); m {
		case "dev", "test":
			g.mode = m
		case "prod", "production", "":
		default:
			r.errorf(tel.keyPath("mode"), "%q is not dev or test (production is the default)", v)
		}
	}
	if v, ok := tel.number("pollTime"); ok {
		if v <= 0 {
			r.errorf(tel.keyPath("pollTime"), "must be a positive number of seconds, got %g", v)
		} else {
			g.pollInterval = (time.Duration(v * float64(time.Second))).String()
		}
	}
	if log, ok := tel.obj("log"); ok {
		for _, k := range log.unread() {
			r.warnf(log.keyPath(k), "not translated: the collector's own logs are set under service::telemetry::logs")
		}
	}
	if _, ok := tel.get("stayAlive"); ok {
		r.notef(tel.keyPath("stayAlive"), "not needed: the collector runs until it is stopped")
	}
	if _, ok := tel.get("allowRoot"); ok {
		r.notef(tel.keyPath("allowRoot"), "not needed: the collector runs as any user that may write the log files")
	}
	for _, k := range []string{"restrictedRegions", "restrictedRegionAssumption"} {
		if _, ok := tel.get(k); ok {
			r.notef(tel.keyPath(k), "not translated: the transmitter itself ignores it (the feature is disabled)")
		}
	}
	return g
}

func checkEndpoints(r *report, path string, eps []string) bool {
	if len(eps) == 0 {
		r.errorf(path, "must name at least one URL")
		return false
	}
	ok := true
	for i, ep := range eps {
		p := path
		if len(eps) > 1 {
			p = fmt.Sprintf("%s/%d", path, i)
		}
		u, err := url.Parse(ep)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https"):
			r.errorf(p, "%q is not an http or https URL", ep)
			ok = false
		case u.Host == "":
			r.errorf(p, "%q has no host", ep)
			ok = false
		case slices.Index(eps, ep) < i:
			r.errorf(p, "%q is listed twice", ep)
			ok = false
		}
	}
	return ok
}

// checkMatchMode mirrors the structured_log receiver's message_match_mode.
func checkMatchMode(spec string) error {
	s := strings.ToLower(strings.TrimSpace(spec))
	switch s {
	case "all", "matching", "matching+":
		return nil
	}
	for part := range strings.SplitSeq(s, ",") {
		switch strings.TrimSpace(part) {
		case "test", "dev", "prod":
		default:
			return fmt.Errorf("%q is not all, matching, matching+, or a comma list of test, dev and prod", spec)
		}
	}
	return nil
}

// omniverseConfig builds the config of the parsed transmitters.
type omniverseConfig struct {
	r *report
	g globals

	root, receivers, processors, exporters, extensions, pipelines node

	extIDs     []string
	registries map[string]string // schema sources → schema_registry id
	auths      map[string]string // token settings → auth_token id
	env        []string          // "NAME: what it holds", for the header
	noSchemas  []string          // transmitters without schemasUrl
	noToken    []string          // transmitters without authTokenUrl
}

// buildOmniverse writes the config for the parsed transmitters.
func buildOmniverse(r *report, name string, g globals, txs []*transmitter) (*Result, error) {
	seekTags, err := assignSeekTags(r, txs)
	if err != nil {
		return nil, err
	}
	b := &omniverseConfig{r: r, g: g, root: newNode(), pipelines: newNode(),
		registries: map[string]string{}, auths: map[string]string{}}
	b.receivers, b.processors = b.root.child("receivers"), b.root.child("processors")
	b.exporters, b.extensions = b.root.child("exporters"), b.root.child("extensions")
	for i, t := range txs {
		id := strconv.Itoa(i)
		regID := b.registry(t, id)
		b.receiver(t, id, seekTags[i])
		b.processorsFor(t, id, regID)
		b.exporter(t, id, regID)
		p := b.pipelines.child("logs/" + id)
		p.set("receivers", []string{"structured_log/" + id}, "")
		p.set("processors", []string{"schema_validation/" + id, "old_events/" + id}, "")
		p.set("exporters", []string{"cloudevents/" + id}, "")
	}
	service := b.root.child("service")
	service.set("extensions", b.extIDs, "")
	service.set("pipelines", b.pipelines, "")
	if len(b.noSchemas) > 0 {
		r.notef(strings.Join(b.noSchemas, ", "), "not set: the transmitter's default (NVIDIA's, chosen by /telemetry/mode) is not known here; the config reads $%s", EnvSchemasURL)
	}
	if len(b.noToken) > 0 {
		r.notef(strings.Join(b.noToken, ", "), "not set: the transmitter's default (the Omniverse Launcher's token API) is not known here; the config reads $%s", EnvAuthTokenURL)
	}

	intro := fmt.Sprintf("Courier config translated by courier-config from the Omniverse telemetry\n"+
		"transmitter settings %s: one pipeline per transmitter object\n"+
		"(structured_log → schema_validation → old_events → cloudevents).", filepath.Base(name))
	out, err := render(header(intro, b.env, r), b.root)
	if err != nil {
		return nil, err
	}
	return &Result{Config: out, Warnings: r.warnings, Notes: r.notes}, nil
}

// useEnv returns a placeholder for an environment variable and lists it in
// the header.
func (b *omniverseConfig) useEnv(name, what string) string {
	if entry := name + ": " + what; !slices.Contains(b.env, entry) {
		b.env = append(b.env, entry)
	}
	return envRef(name)
}

// registry returns the schema_registry of t's schemas, adding it unless a
// transmitter before t has the same sources.
func (b *omniverseConfig) registry(t *transmitter, id string) string {
	sources := t.schemasURLs
	if sources == nil {
		b.noSchemas = append(b.noSchemas, t.setting("schemasUrl"))
		sources = []string{b.useEnv(EnvSchemasURL, "where the approved schemas are (URL, file:// URL or path)")}
	}
	key := strings.Join(sources, "\n")
	if regID, shared := b.registries[key]; shared {
		return regID
	}
	regID := "schema_registry/" + id
	b.registries[key] = regID
	b.extensions.child(regID).set("sources", sources, t.from("schemasUrl"))
	b.extIDs = append(b.extIDs, regID)
	return regID
}

// receiver reads the structured log files under t's own seek tag.
func (b *omniverseConfig) receiver(t *transmitter, id, seekTag string) {
	rcv := b.receivers.child("structured_log/" + id)
	rcv.set("include", []string{omniverseLogGlob}, "the Omniverse log folder (not a transmitter setting)")
	rcv.set("seek_tag_name", seekTag, t.from("seekTagName"))
	if b.g.mode != "" {
		rcv.set("mode", b.g.mode, "/telemetry/mode")
	}
	if t.messageMatchMode != nil {
		rcv.set("message_match_mode", *t.messageMatchMode, t.from("messageMatchMode"))
	}
	if t.resendEvents != nil {
		rcv.set("resend_events", *t.resendEvents, t.from("resendEvents"))
	}
	if t.queueLimit != nil {
		rcv.set("max_batch_events", *t.queueLimit, t.from("queueLimit"))
	}
	if b.g.pollInterval != "" {
		rcv.set("poll_interval", b.g.pollInterval, "/telemetry/pollTime")
	}
}

// processorsFor validates against the approved schemas and consent, then
// treats old events, as the transmitter does before uploading.
func (b *omniverseConfig) processorsFor(t *transmitter, id, regID string) {
	b.processors.child("schema_validation/"+id).set("registry", regID, "")
	old := b.processors.child("old_events/" + id)
	if t.oldEventsThreshold != nil {
		old.set("threshold_days", *t.oldEventsThreshold, t.from("oldEventsThreshold"))
	}
	if t.ignoreOldEvents != nil {
		old.set("ignore_old_events", *t.ignoreOldEvents, t.from("ignoreOldEvents"))
	}
	if t.pseudonymize != nil {
		old.set("pseudonymize_old_events", *t.pseudonymize, t.from("pseudonymizeOldEvents"))
	}
	old.set("pseudonymize_key", b.useEnv(EnvPseudonymizeKey, "HMAC key of pseudonymization, at least 16 bytes; may stay unset unless pseudonymizeOldEvents is true"), "the transmitter's key is its own")
	old.set("registry", regID, "schema and event flags and thresholds")
}

// exporter uploads to t's endpoints in t's protocol.
func (b *omniverseConfig) exporter(t *transmitter, id, regID string) {
	exp := b.exporters.child("cloudevents/" + id)
	if len(t.endpoints) == 1 {
		exp.set("endpoint", t.endpoints[0], t.from("endpoint"))
	} else {
		exp.set("endpoints", t.endpoints, t.from("endpoint"))
	}
	encoding := "jsonl"
	if t.encoding != nil {
		encoding = *t.encoding
	}
	exp.set("encoding", encoding, or(t.from("eventProtocol"), "the transmitter's default protocol"))
	if encoding == "nvdf" {
		exp.set("schema_registry", regID, "NVDF prefixes from the schemas")
	}
	if t.transmissionLimit != nil {
		exp.set("transmission_limit", *t.transmissionLimit, t.from("transmissionLimit"))
	}
	if authID := b.auth(t, id); authID != "" {
		exp.child("auth").set("authenticator", authID, "")
	}
	if t.queueLimit != nil && *t.queueLimit > exporterQueueSize {
		// The queue refuses a batch larger than itself.
		exp.child("sending_queue").set("queue_size", *t.queueLimit, "at least max_batch_events")
	}
	retry := exp.child("retry_on_failure")
	retry.set("initial_interval", transmitterInitialBackoff, "")
	retry.set("multiplier", 2, "")
	retry.set("max_interval", transmitterMaxBackoff, "")
	retry.set("max_retries", -1, "the events wait in the log files meanwhile")
	exp.comment("retry_on_failure", "the transmitter's backoff: 1 s, 2 s, 4 s … up to 4096 s, never giving up")
	if t.retryLimit != nil {
		if len(t.endpoints) > 1 {
			exp.child("failover").set("retry_limit", *t.retryLimit, t.from("retryLimit"))
		} else {
			b.r.notef(t.setting("retryLimit"), "not translated: with one endpoint there is nothing to fail over to, and Courier keeps retrying it (retry_on_failure::max_retries: -1)")
		}
	}
}

// auth returns the auth_token extension of t, adding it unless a transmitter
// before t has the same token settings, or "" without authentication.
func (b *omniverseConfig) auth(t *transmitter, id string) string {
	if t.authenticate != nil && !*t.authenticate {
		for _, k := range []string{"authTokenUrl", "authTokenKeyName", "authTokenExpiryName", "authTokenType"} {
			if p, set := t.src[k]; set {
				b.r.notef(p, "not used: authenticate is false (the transmitter ignores it too)")
			}
		}
		return ""
	}
	var tokenURL string
	if t.authTokenURL != nil {
		tokenURL = *t.authTokenURL
	} else {
		b.noToken = append(b.noToken, t.setting("authTokenUrl"))
		tokenURL = b.useEnv(EnvAuthTokenURL, "where the bearer token is (https URL answering JSON, file:// URL or path)")
	}
	key := strings.Join([]string{tokenURL, deref(t.authTokenKeyName), deref(t.authTokenExpiryName), deref(t.authTokenType)}, "\n")
	if authID, shared := b.auths[key]; shared {
		return authID
	}
	authID := "auth_token/" + id
	b.auths[key] = authID
	b.extIDs = append(b.extIDs, authID)
	a := b.extensions.child(authID)
	a.set("url", tokenURL, t.from("authTokenUrl"))
	if t.authTokenKeyName != nil {
		a.set("key_name", *t.authTokenKeyName, t.from("authTokenKeyName"))
	}
	if t.authTokenExpiryName != nil {
		a.set("expiry_name", *t.authTokenExpiryName, t.from("authTokenExpiryName"))
	}
	if t.authTokenType != nil {
		a.set("type", *t.authTokenType, t.from("authTokenType"))
	}
	return authID
}

// assignSeekTags gives every transmitter its own seek tag: the one it names,
// else the transmitter's default "seek" for the first, "seek-<index>" for the
// others (each transmitter object keeps its own progress, SPEC.md B.7).
func assignSeekTags(r *report, txs []*transmitter) ([]string, error) {
	tags := make([]string, len(txs))
	owner := map[string]int{}
	for i, t := range txs {
		if t.seekTagName == nil {
			continue
		}
		if j, dup := owner[*t.seekTagName]; dup {
			r.errorf(t.setting("seekTagName"), "%q is also the seek tag of %s; each transmitter object needs its own", *t.seekTagName, txs[j].label)
			continue
		}
		owner[*t.seekTagName] = i
		tags[i] = *t.seekTagName
	}
	for i, t := range txs {
		if tags[i] != "" {
			continue
		}
		tag := defaultSeekTag
		for n := 0; ; n++ {
			if _, taken := owner[tag]; !taken {
				break
			}
			tag = fmt.Sprintf("%s-%d", defaultSeekTag, i+n)
		}
		owner[tag] = i
		tags[i] = tag
		if tag != defaultSeekTag {
			r.notef(t.setting("seekTagName"), "not set; using %q so that this transmitter keeps its own progress (%q is taken)", tag, defaultSeekTag)
		}
	}
	return tags, r.err()
}

// or is a, or b when a is empty.
func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// deref is *v, or a value no setting can hold when v is unset, so that set
// and unset differ in the keys that deduplicate extensions.
func deref(v *string) string {
	if v == nil {
		return "\x00"
	}
	return *v
}
