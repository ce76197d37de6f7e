{{/*
Where the datastore receiver connects, worked out once: the receiver's provider section and what
the pod needs for it (env, envFrom, the certificate volume and its mount). Returns YAML:

  provider: postgresql | mongodb
  receiver: {dsn | uri, database, ..., tls}   the receiver's `postgresql:` or `mongodb:` section
  env: [...]  envFrom: [...]  volume: {...}  mount: {...}

Without datastore.connectionSecret this follows NVSentinel's event-exporter chart and its Go
code (store-client's LoadDatastoreConfig): the same values, ConfigMaps, Secrets and certificate
volumes, so Courier connects where NVSentinel's exporter connects. deploytest compares the two.
*/}}
{{- define "courier.datastore" -}}
{{- $ds := .Values.datastore }}
{{- $g := .Values.global | default dict }}
{{- $gds := $g.datastore | default dict }}
{{- $provider := $ds.provider | default $gds.provider | default "mongodb" }}
{{- if not (has $provider (list "postgresql" "mongodb")) }}
{{- fail (printf "datastore.provider: %q is not one of postgresql, mongodb" (toString $provider)) }}
{{- end }}
provider: {{ $provider }}
{{- if $ds.connectionSecret.name }}
{{- include "courier.datastore.standalone" (dict "ctx" . "provider" $provider) }}
{{- else if eq $provider "postgresql" }}
{{- include "courier.datastore.nvsentinelPostgreSQL" . }}
{{- else }}
{{- include "courier.datastore.nvsentinelMongoDB" . }}
{{- end }}
{{- end }}

{{/* datastore.connectionSecret: a connection string of the install's own, TLS from datastore.tls. */}}
{{- define "courier.datastore.standalone" -}}
{{- $ds := .ctx.Values.datastore }}
{{- $mongo := eq .provider "mongodb" }}
{{- $env := ternary "COURIER_DATASTORE_URI" "COURIER_DATASTORE_DSN" $mongo }}
{{- $dir := $ds.tls.mountPath | default (ternary "/etc/ssl/mongo-client" "/etc/ssl/client-certs" $mongo) }}
receiver:
  {{ ternary "uri" "dsn" $mongo }}: ${env:{{ $env }}}
  {{- if $mongo }}
  {{- include "courier.datastore.mongoNames" (dict "ctx" .ctx "database" "nvsentinel" "collection" "HealthEvents" "tokenCollection" "ResumeTokens") | nindent 2 }}
  {{- end }}
  {{- if $ds.tls.secretName }}
  tls:
    ca_file: {{ printf "%s/ca.crt" $dir | toJson }}
    {{- if $ds.tls.clientCertificate }}
    cert_file: {{ printf "%s/tls.crt" $dir | toJson }}
    key_file: {{ printf "%s/tls.key" $dir | toJson }}
    {{- end }}
    {{- if $ds.tls.insecureSkipVerify }}
    insecure_skip_verify: true
    {{- end }}
  {{- end }}
env:
  - name: {{ $env }}
    valueFrom:
      secretKeyRef:
        name: {{ $ds.connectionSecret.name | toJson }}
        key: {{ $ds.connectionSecret.key | default (ternary "MONGODB_URI" "dsn" $mongo) | toJson }}
{{- if $ds.tls.secretName }}
volume:
  name: datastore-tls
  secret:
    secretName: {{ $ds.tls.secretName | toJson }}
    items:
      - {key: ca.crt, path: ca.crt}
      {{- if $ds.tls.clientCertificate }}
      - {key: tls.crt, path: tls.crt}
      - {key: tls.key, path: tls.key}
      {{- end }}
    # Group-readable through fsGroup, and no more: the client key is a secret.
    defaultMode: 0440
mount: {name: datastore-tls, mountPath: {{ $dir | toJson }}, readOnly: true}
{{- end }}
{{- end }}

{{/*
NVSentinel with global.datastore.provider postgresql. Its exporter reads DATASTORE_HOST, _PORT,
_DATABASE, _USERNAME, _SSLMODE, _SSLCERT, _SSLKEY and _SSLROOTCERT, which the umbrella chart's
<release>-datastore-config ConfigMap sets from global.datastore.connection, and joins the
non-empty ones into a libpq DSN (host defaults to localhost, port to 5432, dbname to
nvsentinel). The same values give the same DSN here; it holds no password (NVSentinel's chart
sets none: the client certificate authenticates). The certificates are NVSentinel's
postgresql-client-cert Secret at /etc/ssl/client-certs, where NVSentinel mounts them.
*/}}
{{- define "courier.datastore.nvsentinelPostgreSQL" -}}
{{- $c := ((.Values.global.datastore).connection) | default dict }}
{{- $dir := "/etc/ssl/client-certs" }}
{{- $parts := list }}
{{- range $kv := list (list "host" ($c.host | default "localhost")) (list "port" (toString ($c.port | default 5432))) (list "dbname" ($c.database | default "nvsentinel")) (list "user" $c.username) (list "sslmode" $c.sslmode) (list "sslcert" $c.sslcert) (list "sslkey" $c.sslkey) (list "sslrootcert" $c.sslrootcert) }}
{{- with index $kv 1 }}
{{- $parts = append $parts (printf "%s='%s'" (index $kv 0) (toString . | replace "\\" "\\\\" | replace "'" "\\'")) }}
{{- end }}
{{- end }}
receiver:
  # global.datastore.connection, as NVSentinel's exporter joins it.
  dsn: {{ join " " $parts | toJson }}
volume:
  name: datastore-tls
  secret:
    secretName: postgresql-client-cert
    items:
      - {key: tls.crt, path: tls.crt}
      - {key: tls.key, path: tls.key}
      - {key: ca.crt, path: ca.crt}
    defaultMode: 0440
mount: {name: datastore-tls, mountPath: {{ $dir }}, readOnly: true}
{{- end }}

{{/*
NVSentinel with MongoDB: its default (no global.datastore: the in-cluster MongoDB, URI and
database in the mongodb-config ConfigMap, X.509 client certificate) or global.datastore.provider
mongodb (external: the URI from the Secret credentialsFromSecret.name, key MONGODB_URI; in-cluster
with global.mongodbStore.enabled: that Secret, or a URI built from connection.host). Certificates
as the umbrella chart's nvsentinel.mongodb.certVolume and certMountPathFromMongoStore helpers
choose them.
*/}}
{{- define "courier.datastore.nvsentinelMongoDB" -}}
{{- $g := .Values.global | default dict }}
{{- $gds := $g.datastore }}
{{- $inCluster := ($g.mongodbStore).enabled | default false }}
{{- $external := and $gds (not $inCluster) }}
{{- $secret := (($gds | default dict).credentialsFromSecret).name | default "" | trim }}
{{- $c := (($gds | default dict).connection) | default dict }}
{{- $uri := "" }}
{{- $env := list }}
{{- $envFrom := list }}
{{- if $secret }}
{{- $uri = "${env:COURIER_DATASTORE_URI}" }}
{{- $env = append $env (dict "name" "COURIER_DATASTORE_URI" "valueFrom" (dict "secretKeyRef" (dict "name" $secret "key" "MONGODB_URI"))) }}
{{- else if $external }}
{{- fail "global.datastore.credentialsFromSecret.name is required for external MongoDB (global.mongodbStore.enabled false), as in NVSentinel's chart: a Secret with key MONGODB_URI" }}
{{- else if $gds }}
{{- if not $c.host }}
{{- fail "global.datastore.provider mongodb requires global.datastore.credentialsFromSecret.name (external) or global.datastore.connection.host (in-cluster, global.mongodbStore.enabled)" }}
{{- end }}
{{- $uri = printf "mongodb://%s:%d/" $c.host (int ($c.port | default 27017)) }}
{{- with $c.extraParams }}
{{- $params := list }}
{{- range $k, $v := . }}
{{- $params = append $params (printf "%s=%s" $k (toString $v)) }}
{{- end }}
{{- $uri = printf "%s?%s" $uri (join "&" $params) }}
{{- end }}
{{- else }}
{{- $uri = "${env:MONGODB_URI}" }}
{{- $envFrom = append $envFrom (dict "configMapRef" (dict "name" "mongodb-config" "optional" false)) }}
{{- end }}
{{- /* Database and collections: global.datastore.connection, else the mongodb-config ConfigMap. */}}
{{- $names := dict }}
{{- if $gds }}
{{- $names = dict "database" ($c.database | default $gds.database | default "nvsentinel") "collection" ($c.collection | default "HealthEvents") "tokenCollection" ($c.tokenCollection | default "ResumeTokens") }}
{{- else }}
{{- $names = dict "database" "${env:MONGODB_DATABASE_NAME:-nvsentinel}" "collection" "${env:MONGODB_COLLECTION_NAME:-HealthEvents}" "tokenCollection" "${env:MONGODB_TOKEN_COLLECTION_NAME:-ResumeTokens}" }}
{{- end }}
{{- /* The certificate volume (nvsentinel.mongodb.certVolume). */}}
{{- $auth := ($gds | default dict).auth | default dict }}
{{- $certs := ($gds | default dict).certificates | default dict }}
{{- $caSecret := ((($gds | default dict).tls).caSecretName) | default "" }}
{{- $items := list (dict "key" ($certs.certKey | default "tls.crt") "path" "tls.crt") (dict "key" ($certs.keyKey | default "tls.key") "path" "tls.key") (dict "key" ($certs.caKey | default "ca.crt") "path" "ca.crt") }}
{{- $volume := dict }}
{{- if $external }}
{{- if and (eq ($auth.mechanism | default "scram") "x509") $auth.clientCertSecretName }}
{{- $volume = dict "secretName" $auth.clientCertSecretName "items" $items "optional" false }}
{{- else if $caSecret }}
{{- $volume = dict "secretName" $caSecret "items" (list (dict "key" "ca.crt" "path" "ca.crt")) "optional" false }}
{{- end }}
{{- else }}
{{- $volume = dict "secretName" ($auth.clientCertSecretName | default $certs.secretName | default "mongo-app-client-cert-secret") "items" $items "optional" true }}
{{- end }}
{{- /* Its mount path (nvsentinel.mongodb.certMountPathFromMongoStore). */}}
{{- $dir := (.Values.mongodbStore).clientCertMountPath | default "" }}
{{- if and (not $dir) $external $caSecret }}
{{- $dir = "/etc/ssl/mongo-ca" }}
{{- end }}
{{- $mounted := and $volume $dir }}
receiver:
  uri: {{ $uri | toJson }}
  {{- include "courier.datastore.mongoNames" (merge (dict "ctx" .) $names) | nindent 2 }}
  {{- if $mounted }}
  tls:
    ca_file: {{ printf "%s/ca.crt" $dir | toJson }}
    {{- if gt (len $volume.items) 1 }}
    cert_file: {{ printf "%s/tls.crt" $dir | toJson }}
    key_file: {{ printf "%s/tls.key" $dir | toJson }}
    {{- end }}
  {{- end }}
{{- with $env }}
env: {{ toJson . }}
{{- end }}
{{- with $envFrom }}
envFrom: {{ toJson . }}
{{- end }}
{{- if $mounted }}
volume:
  name: datastore-tls
  secret: {{ merge (dict "defaultMode" 288) $volume | toJson }}
mount: {name: datastore-tls, mountPath: {{ $dir | toJson }}, readOnly: true}
{{- end }}
{{- end }}

{{/* The MongoDB database and collections: datastore.mongodb.* when set, else the defaults given. */}}
{{- define "courier.datastore.mongoNames" -}}
{{- $m := .ctx.Values.datastore.mongodb }}
database: {{ $m.database | default .database | toJson }}
collection: {{ $m.collection | default .collection | toJson }}
token_collection: {{ $m.tokenCollection | default .tokenCollection | toJson }}
{{- end }}
