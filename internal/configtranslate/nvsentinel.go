package configtranslate

import (
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Datastore providers of the datastore receiver.
const (
	ProviderPostgreSQL = "postgresql"
	ProviderMongoDB    = "mongodb"
)

// DefaultOIDCSecretFile is where the generated config reads the OIDC client
// secret: the key oidc-client-secret of the Secret named by oidcSecretName,
// mounted as a file where Courier's Helm chart mounts it.
const DefaultOIDCSecretFile = "/etc/otelcol-courier-secrets/oidc/oidc-client-secret"

// NVSentinelOptions are the parts of an NVSentinel deployment that the
// event-exporter's values do not hold.
type NVSentinelOptions struct {
	// Provider is the datastore: postgresql or mongodb. Empty reads it as
	// NVSentinel's chart does: global.datastore.provider when the values
	// have a global.datastore block, otherwise NVSentinel's default, the
	// in-cluster MongoDB.
	Provider string
	// OIDCSecretFile is the mounted client secret; DefaultOIDCSecretFile
	// when empty.
	OIDCSecretFile string
}

// deploymentKeys are event-exporter values that shape the Kubernetes
// objects, not the collector config.
var deploymentKeys = []string{
	"resources", "oidcSecretName", "replicaCount", "image", "imagePullSecrets", "podAnnotations",
	"podLabels", "nodeSelector", "tolerations", "affinity", "podSecurityContext", "securityContext",
	"serviceAccount", "priorityClassName", "logLevel",
}

// NVSentinel translates the NVSentinel event-exporter's Helm values (the
// event-exporter: block of the umbrella chart's values, or its content) into
// a Courier config: datastore → event_metadata → [cel_filter] → cloudevents
// with oidc_client (SPEC.md A.5). The datastore connection is not in those
// values: the config reads it from the environment.
func NVSentinel(data []byte, name string, opts NVSentinelOptions) (*Result, error) {
	if opts.Provider != "" && opts.Provider != ProviderPostgreSQL && opts.Provider != ProviderMongoDB {
		return nil, fmt.Errorf("provider %q is not %s or %s", opts.Provider, ProviderPostgreSQL, ProviderMongoDB)
	}
	if opts.OIDCSecretFile == "" {
		opts.OIDCSecretFile = DefaultOIDCSecretFile
	}
	var raw any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("not YAML: %w", err)
	}
	v, err := normalize(raw)
	if err != nil {
		return nil, fmt.Errorf("not Helm values: %w", err)
	}
	doc, isMap := v.(map[string]any)
	if !isMap {
		return nil, fmt.Errorf("the values must be a mapping, got %s", describe(v))
	}
	r := &report{}
	block := newObject(r, "", ".", doc)
	var provider providerChoice
	if block.has("event-exporter") {
		top := block
		var ok bool
		if block, ok = top.obj("event-exporter"); !ok {
			return nil, r.err()
		}
		provider = readProvider(top)
		if others := top.unread(); len(others) > 0 {
			r.notef("values", "only event-exporter and global.datastore are translated; not read: %s", strings.Join(others, ", "))
		}
	} else {
		// The exporter's own values (a subchart's view) hold global: too.
		provider = readProvider(block)
	}
	opts.Provider = provider.resolve(r, opts.Provider)
	nv := readNVSentinel(block)
	if err := r.err(); err != nil {
		return nil, err
	}
	return buildNVSentinel(r, name, opts, provider, nv)
}

// mongoCertDir is where NVSentinel's event-exporter chart mounts the
// MongoDB client certificate (mongodbStore.clientCertMountPath).
const mongoCertDir = "/etc/ssl/mongo-client"

// mongoCADir is where NVSentinel mounts the CA of an external MongoDB
// (global.datastore.tls.caSecretName) when no client certificate is used.
const mongoCADir = "/etc/ssl/mongo-ca"

// postgresDSN joins global.datastore.connection into a libpq connection
// string the way NVSentinel's store-client does with the variables its chart
// makes of it: host (default localhost), port (5432), dbname (nvsentinel),
// then user, sslmode and the certificate paths when set. No password:
// NVSentinel authenticates with the client certificate (pgx reads
// PGPASSWORD if one is needed).
func postgresDSN(conn map[string]string) string {
	def := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	var parts []string
	add := func(key, v string) {
		if v != "" {
			parts = append(parts, key+"='"+strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v)+"'")
		}
	}
	add("host", def(conn["host"], "localhost"))
	add("port", def(conn["port"], "5432"))
	add("dbname", def(conn["database"], "nvsentinel"))
	for _, k := range []string{"username", "sslmode", "sslcert", "sslkey", "sslrootcert"} {
		key := k
		if k == "username" {
			key = "user"
		}
		add(key, conn[k])
	}
	return strings.Join(parts, " ")
}

// providerChoice is the datastore provider the values name, if any, and
// the comment that says where the config's provider came from.
type providerChoice struct {
	fromValues string // global.datastore.provider; "" when the values have no global.datastore
	why        string
	ds         datastoreValues
}

// datastoreValues are the parts of global.datastore that say where the
// datastore is, as NVSentinel's chart reads them.
type datastoreValues struct {
	connection  map[string]string // global.datastore.connection, as text
	x509        bool              // auth.mechanism x509 with a client certificate Secret
	caSecret    bool              // tls.caSecretName
	inClusterDB bool              // global.mongodbStore.enabled
}

// readProvider reads global.datastore.provider, as NVSentinel's chart
// does: a global.datastore block switches every component to its provider.
func readProvider(top *object) providerChoice {
	global, ok := top.obj("global")
	if !ok {
		return providerChoice{}
	}
	ds, ok := global.obj("datastore")
	if !ok {
		return providerChoice{}
	}
	var v datastoreValues
	if c, ok := ds.get("connection"); ok {
		if m, isMap := c.(map[string]any); isMap {
			v.connection = map[string]string{}
			for k, x := range m {
				if x != nil {
					v.connection[k] = fmt.Sprint(x)
				}
			}
		}
	}
	if auth, ok := ds.get("auth"); ok {
		if m, isMap := auth.(map[string]any); isMap {
			v.x509 = m["mechanism"] == "x509" && m["clientCertSecretName"] != nil && m["clientCertSecretName"] != ""
		}
	}
	if tls, ok := ds.get("tls"); ok {
		if m, isMap := tls.(map[string]any); isMap {
			v.caSecret = m["caSecretName"] != nil && m["caSecretName"] != ""
		}
	}
	if store, ok := global.get("mongodbStore"); ok {
		if m, isMap := store.(map[string]any); isMap {
			v.inClusterDB = m["enabled"] == true
		}
	}
	p, _ := ds.str("provider")
	if p == "" {
		// NVSentinel's templates compare provider with "postgresql":
		// anything else is MongoDB.
		p = ProviderMongoDB
	}
	if p != ProviderPostgreSQL && p != ProviderMongoDB {
		top.r.errorf("global.datastore.provider", "%q is not %s or %s", p, ProviderPostgreSQL, ProviderMongoDB)
	}
	return providerChoice{fromValues: p, ds: v}
}

// resolve picks the provider: the flag when given, else the values', else
// NVSentinel's default (in-cluster MongoDB).
func (c *providerChoice) resolve(r *report, flag string) string {
	switch {
	case flag != "" && c.fromValues != "" && flag != c.fromValues:
		r.warnf("global.datastore.provider", "is %s, but courier-config -provider %s wins", c.fromValues, flag)
		c.why = "courier-config -provider"
		return flag
	case flag != "":
		c.why = "courier-config -provider"
		return flag
	case c.fromValues != "":
		c.why = "global.datastore.provider"
		return c.fromValues
	default:
		c.why = "no global.datastore: NVSentinel's default, the in-cluster MongoDB"
		return ProviderMongoDB
	}
}

// nvsentinel holds the event-exporter values that reach the collector config.
type nvsentinel struct {
	secretName   string
	exporterPath string // where exporter: is, for comments
	metadata     map[string]string
	metadataFrom string
	sink         struct {
		endpoint, timeout string
		insecure          bool
	}
	oidc           *oidcSettings
	backfill       node // datastore backfill, already in Courier's keys
	workers        int64
	retry          node // cloudevents retry_on_failure
	filter         string
	resumeDatabase string
	resumeColl     string
	resumePath     string
}

// oidcSettings are exporter.oidc's.
type oidcSettings struct {
	tokenURL, clientID string
	scopes             []string
	insecure           bool
}

func readNVSentinel(block *object) *nvsentinel {
	r := block.r
	nv := &nvsentinel{metadata: map[string]string{}, backfill: newNode(), retry: newNode()}
	exp, ok := block.obj("exporter")
	if !ok {
		if !block.has("exporter") {
			r.errorf(block.keyPath("exporter"), "required: the exporter settings (metadata, sink, oidc, …)")
		}
		return nv
	}
	nv.exporterPath = exp.path
	nv.secretName, _ = block.str("oidcSecretName")
	for _, k := range deploymentKeys {
		if _, set := block.get(k); set && k != "oidcSecretName" {
			r.notef(block.keyPath(k), "a Kubernetes setting of the Helm chart, not part of the collector config")
		}
	}
	// The seed's documentation also shows metadata directly in the block.
	var metadataFrom []string
	for _, m := range []*object{mustObj(block, "metadata"), mustObj(exp, "metadata")} {
		if m != nil {
			readMetadata(nv.metadata, m)
			metadataFrom = append(metadataFrom, m.path)
		}
	}
	nv.metadataFrom = strings.Join(metadataFrom, ", ")
	if nv.metadata["cluster"] == "" {
		r.errorf(exp.keyPath("metadata.cluster"), "required: it names the cluster in the CloudEvent source nvsentinel://<cluster>/healthevents")
	}

	if sink, ok := exp.obj("sink"); ok {
		if ep, ok := sink.str("endpoint"); ok {
			if u, err := url.Parse(ep); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				r.errorf(sink.keyPath("endpoint"), "%q is not an http or https URL", ep)
			}
			nv.sink.endpoint = ep
		}
		nv.sink.timeout = duration(sink, "timeout")
		nv.sink.insecure, _ = sink.boolean("insecureSkipVerify")
		sink.warnUnknown()
	}
	if nv.sink.endpoint == "" {
		r.errorf(exp.keyPath("sink.endpoint"), "required: where the events are POSTed")
	}

	if oidc, ok := exp.obj("oidc"); ok {
		o := &oidcSettings{}
		o.tokenURL, _ = oidc.str("tokenUrl")
		o.clientID, _ = oidc.str("clientId")
		scope, _ := oidc.str("scope")
		o.scopes = strings.Fields(scope) // OAuth 2.0 scopes are space-separated
		o.insecure, _ = oidc.boolean("insecureSkipVerify")
		oidc.warnUnknown()
		switch {
		case o.tokenURL == "" && o.clientID == "":
			r.notef(oidc.path, "no tokenUrl: events are sent without a token")
		case o.tokenURL == "":
			r.errorf(oidc.keyPath("tokenUrl"), "required with clientId")
		case o.clientID == "":
			r.errorf(oidc.keyPath("clientId"), "required with tokenUrl")
		default:
			nv.oidc = o
		}
	}

	if bf, ok := exp.obj("backfill"); ok {
		if v, ok := bf.boolean("enabled"); ok {
			nv.backfill.set("enabled", v, "")
		}
		if v := duration(bf, "maxAge"); v != "" {
			nv.backfill.set("max_age", v, "")
		}
		intKey(bf, "maxEvents", 0, nv.backfill, "max_events")
		intKey(bf, "batchSize", 1, nv.backfill, "batch_size")
		if v, ok := bf.number("rateLimit"); ok {
			if v < 0 {
				r.errorf(bf.keyPath("rateLimit"), "must not be negative, got %g", v)
			} else {
				nv.backfill.set("rate_limit", v, "")
			}
		}
		bf.warnUnknown()
	}

	if v, ok := exp.integer("workers"); ok {
		if v < 1 {
			r.errorf(exp.keyPath("workers"), "must be at least 1, got %d", v)
		}
		nv.workers = v
	}

	if fh, ok := exp.obj("failureHandling"); ok {
		intKey(fh, "maxRetries", 0, nv.retry, "max_retries")
		if v := duration(fh, "initialBackoff"); v != "" {
			nv.retry.set("initial_interval", v, "")
		}
		if v := duration(fh, "maxBackoff"); v != "" {
			nv.retry.set("max_interval", v, "")
		}
		if v, ok := fh.number("backoffMultiplier"); ok {
			if v < 1 {
				r.errorf(fh.keyPath("backoffMultiplier"), "must be at least 1, got %g", v)
			}
			nv.retry.set("multiplier", v, "")
		}
		fh.warnUnknown()
	}

	if f, ok := exp.obj("filter"); ok {
		e, _ := f.str("expression")
		nv.filter = strings.TrimSpace(e) // blank exports everything, as upstream
		f.warnUnknown()
	}

	if rt, ok := exp.obj("resumeToken"); ok {
		nv.resumeDatabase, _ = rt.str("database")
		nv.resumeColl, _ = rt.str("collection")
		nv.resumePath = rt.path
		rt.warnUnknown()
	}
	exp.warnUnknown()
	block.warnUnknown()
	return nv
}

// mustObj reads an optional object (type errors are reported).
func mustObj(o *object, key string) *object {
	m, _ := o.obj(key)
	return m
}

// readMetadata adds the members of m to metadata; later blocks override
// earlier ones, as Helm's own merge would. Helm writes scalars as text.
func readMetadata(metadata map[string]string, m *object) {
	for _, k := range slices.Sorted(maps.Keys(m.m)) {
		v, set := m.get(k)
		if !set {
			continue
		}
		switch x := v.(type) {
		case string:
			metadata[k] = x
		case bool:
			metadata[k] = strconv.FormatBool(x)
		case int64:
			metadata[k] = strconv.FormatInt(x, 10)
		case float64:
			metadata[k] = strconv.FormatFloat(x, 'g', -1, 64)
		default:
			m.r.errorf(m.keyPath(k), "want a string, got %s", describe(v))
		}
	}
}

// duration reads a Go duration string ("30s", "720h").
func duration(o *object, key string) string {
	s, ok := o.str(key)
	if !ok {
		return ""
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		o.r.errorf(o.keyPath(key), "%q is not a duration such as 30s or 720h", s)
		return ""
	}
	return s
}

// intKey copies an integer of at least lowest to dst[to].
func intKey(o *object, key string, lowest int64, dst node, to string) {
	v, ok := o.integer(key)
	if !ok {
		return
	}
	if v < lowest {
		o.r.errorf(o.keyPath(key), "must be at least %d, got %d", lowest, v)
		return
	}
	dst.set(to, v, "")
}

func buildNVSentinel(r *report, name string, opts NVSentinelOptions, provider providerChoice, nv *nvsentinel) (*Result, error) {
	root := newNode()
	var env []string
	useEnv := func(name, why string) string {
		env = append(env, name+": "+why)
		return envRef(name)
	}

	// The datastore's address is not in the values: the config reads it from
	// the variables NVSentinel's chart gives its exporter's pod, by the names
	// and with the defaults of NVSentinel's store-client, so the config
	// connects where NVSentinel's exporter does.
	ds := root.child("receivers").child("datastore")
	ds.set("provider", opts.Provider, provider.why)
	switch opts.Provider {
	case ProviderPostgreSQL:
		ds.child("postgresql").set("dsn", postgresDSN(provider.ds.connection), "global.datastore.connection, joined as NVSentinel's exporter joins it")
		if nv.resumePath != "" {
			r.notef(nv.resumePath, "not used with PostgreSQL: the resume token is in NVSentinel's resume_tokens table")
		}
	case ProviderMongoDB:
		m := ds.child("mongodb")
		m.set("uri", useEnv("MONGODB_URI", "MongoDB URI of NVSentinel's replica set (its mongodb-config ConfigMap, or the credentialsFromSecret Secret; a secret)"), "")
		env = append(env, "MONGODB_DATABASE_NAME, MONGODB_COLLECTION_NAME, MONGODB_TOKEN_COLLECTION_NAME: optional, NVSentinel's names by default")
		if nv.resumeDatabase != "" {
			m.set("database", nv.resumeDatabase, nv.resumePath+".database")
		} else {
			m.set("database", envRefOr("MONGODB_DATABASE_NAME", "nvsentinel"), "")
		}
		m.set("collection", envRefOr("MONGODB_COLLECTION_NAME", "HealthEvents"), "")
		if nv.resumeColl != "" {
			m.set("token_collection", nv.resumeColl, nv.resumePath+".collection")
		} else {
			m.set("token_collection", envRefOr("MONGODB_TOKEN_COLLECTION_NAME", "ResumeTokens"), "")
		}
		switch v := provider.ds; {
		case provider.fromValues == "" || v.inClusterDB || v.x509:
			// NVSentinel's in-cluster MongoDB, or X.509 to an external one:
			// the client certificate where its exporter's chart mounts it.
			env = append(env, "MONGODB_CA_CERT_PATH, MONGODB_CLIENT_CERT_PATH, MONGODB_CLIENT_KEY_PATH: the X.509 client certificate, "+
				"by default under "+mongoCertDir)
			tls := m.child("tls")
			tls.set("ca_file", envRefOr("MONGODB_CA_CERT_PATH", mongoCertDir+"/ca.crt"), "X.509 client certificate")
			tls.set("cert_file", envRefOr("MONGODB_CLIENT_CERT_PATH", mongoCertDir+"/tls.crt"), "")
			tls.set("key_file", envRefOr("MONGODB_CLIENT_KEY_PATH", mongoCertDir+"/tls.key"), "")
		case v.caSecret:
			env = append(env, "MONGODB_CA_CERT_PATH: the CA of global.datastore.tls.caSecretName, by default "+mongoCADir+"/ca.crt")
			m.child("tls").set("ca_file", envRefOr("MONGODB_CA_CERT_PATH", mongoCADir+"/ca.crt"), "global.datastore.tls.caSecretName")
		}
	}
	if !nv.backfill.empty() {
		ds.set("backfill", nv.backfill, nv.at("backfill"))
	}

	processors := root.child("processors")
	em := processors.child("event_metadata")
	md := newNode()
	for _, k := range slices.Sorted(maps.Keys(nv.metadata)) {
		md.set(k, nv.metadata[k], "")
	}
	em.set("metadata", md, nv.metadataFrom)
	em.set("source", "nvsentinel://{cluster}/healthevents", "")
	pipelineProcessors := []string{"event_metadata"}
	if nv.filter != "" {
		processors.child("cel_filter").set("expression", nv.filter, nv.at("filter.expression"))
		pipelineProcessors = append(pipelineProcessors, "cel_filter")
	}

	exp := root.child("exporters").child("cloudevents")
	exp.set("endpoint", nv.sink.endpoint, nv.at("sink.endpoint"))
	if nv.sink.timeout != "" {
		exp.set("timeout", nv.sink.timeout, nv.at("sink.timeout"))
	}
	if nv.sink.insecure {
		exp.child("tls").set("insecure_skip_verify", true, nv.at("sink.insecureSkipVerify"))
	}
	exp.set("encoding", "structured", "one event per POST, application/cloudevents+json")
	if nv.oidc != nil {
		exp.child("auth").set("authenticator", "oidc_client", "")
	}
	if nv.workers > 0 {
		exp.child("sending_queue").set("num_consumers", nv.workers, nv.at("workers"))
	}
	if !nv.retry.empty() {
		exp.set("retry_on_failure", nv.retry, nv.at("failureHandling"))
	}
	exp.child("dead_letter").set("directory", useEnv(EnvDeadLetterDir, "directory for events the sink refuses for good; unset: they are only counted and logged"), "")

	var extIDs []string
	if o := nv.oidc; o != nil {
		ext := root.child("extensions").child("oidc_client")
		ext.set("token_url", o.tokenURL, nv.at("oidc.tokenUrl"))
		ext.set("client_id", o.clientID, nv.at("oidc.clientId"))
		secret := "mount the key oidc-client-secret of the Secret named by oidcSecretName here"
		if nv.secretName != "" {
			secret = fmt.Sprintf("mount the key oidc-client-secret of the Secret %s here", nv.secretName)
		}
		ext.set("client_secret_file", opts.OIDCSecretFile, secret)
		if len(o.scopes) > 0 {
			ext.set("scopes", o.scopes, nv.at("oidc.scope"))
		}
		if o.insecure {
			ext.child("tls").set("insecure_skip_verify", true, nv.at("oidc.insecureSkipVerify"))
		}
		extIDs = append(extIDs, "oidc_client")
	}

	service := root.child("service")
	if len(extIDs) > 0 {
		service.set("extensions", extIDs, "")
	}
	p := service.child("pipelines").child("logs")
	p.set("receivers", []string{"datastore"}, "")
	p.set("processors", pipelineProcessors, "")
	p.set("exporters", []string{"cloudevents"}, "")

	intro := fmt.Sprintf("Courier config translated by courier-config from the NVSentinel event-exporter\n"+
		"values %s: datastore → event_metadata → %scloudevents.", filepath.Base(name),
		map[bool]string{true: "cel_filter → ", false: ""}[nv.filter != ""])
	out, err := render(header(intro, env, r), root)
	if err != nil {
		return nil, err
	}
	return &Result{Config: out, Warnings: r.warnings, Notes: r.notes}, nil
}

// at is the path of a setting under exporter:, for comments.
func (nv *nvsentinel) at(key string) string { return nv.exporterPath + "." + key }
