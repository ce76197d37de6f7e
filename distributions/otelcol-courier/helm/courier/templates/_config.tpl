{{/*
The collector configuration: the pipeline of the mode, rendered from the values, with the
free-form `config` value merged over it (maps merge, lists and scalars are replaced).
Strings go through toJson: a JSON string is a YAML string, so no value can break the document.
*/}}
{{- define "courier.config" -}}
{{- $rendered := include (printf "courier.config.%s" .Values.mode) . | fromYaml }}
{{- if hasKey $rendered "Error" }}
{{- fail (printf "rendering the collector config: %s" $rendered.Error) }}
{{- end }}
{{- $config := mustMergeOverwrite $rendered (deepCopy (.Values.config | default dict)) }}
{{- toYaml $config }}
{{- end }}

{{/* deployment: NVSentinel health events from the datastore. */}}
{{- define "courier.config.deployment" -}}
{{- $ds := .Values.datastore }}
{{- $ex := .Values.exporter }}
{{- $metadata := $ex.metadata | default dict }}
{{- if not $metadata.cluster }}
{{- fail "exporter.metadata.cluster is required: it names the CloudEvent source nvsentinel://<cluster>/healthevents" }}
{{- end }}
{{- if not (has $ds.provider (list "postgresql" "mongodb")) }}
{{- fail (printf "datastore.provider: %q is not one of postgresql, mongodb" $ds.provider) }}
{{- end }}
{{- if not $ds.connectionSecret.name }}
{{- fail "datastore.connectionSecret.name is required: the Secret holding the PostgreSQL DSN or MongoDB URI" }}
{{- end }}
{{- $filter := trim (($ex.filter | default dict).expression | default "") }}
receivers:
  datastore:
    provider: {{ $ds.provider }}
    client_name: {{ $ds.clientName | toJson }}
    {{- if eq $ds.provider "postgresql" }}
    postgresql:
      dsn: ${env:{{ include "courier.datastore.envName" . }}}
      poll_interval: {{ $ds.postgresql.pollInterval | toJson }}
      {{- include "courier.config.datastoreTLS" . | nindent 6 }}
    {{- else }}
    mongodb:
      uri: ${env:{{ include "courier.datastore.envName" . }}}
      database: {{ $ds.mongodb.database | toJson }}
      collection: {{ $ds.mongodb.collection | toJson }}
      token_collection: {{ $ds.mongodb.tokenCollection | toJson }}
      {{- include "courier.config.datastoreTLS" . | nindent 6 }}
    {{- end }}
    {{- with $ex.backfill }}
    backfill: # exporter.backfill
      enabled: {{ .enabled }}
      max_age: {{ .maxAge | toJson }}
      max_events: {{ .maxEvents | int64 }}
      batch_size: {{ .batchSize | int64 }}
      rate_limit: {{ .rateLimit }}
    {{- end }}
    leader_election:
      enabled: {{ $ds.leaderElection.enabled }}
processors:
  event_metadata: # exporter.metadata
    metadata:
      {{- range $k, $v := $metadata }}
      {{ $k | toJson }}: {{ toString $v | toJson }}
      {{- end }}
    source: nvsentinel://{cluster}/healthevents
    overwrite: true # replace the receiver's placeholder source
  {{- if $filter }}
  cel_filter: # exporter.filter
    expression: {{ $filter | toJson }}
  {{- end }}
{{ include "courier.config.exporter" (dict "ctx" . "encoding" "structured") }}
service:
  {{- include "courier.config.serviceExtensions" (dict "ctx" . "extra" (list)) | nindent 2 }}
  pipelines:
    logs:
      receivers: [datastore]
      processors: [event_metadata{{ if $filter }}, cel_filter{{ end }}]
      exporters: [cloudevents]
  {{- include "courier.config.telemetry" . | nindent 2 }}
{{- end }}

{{/* daemonset: structured log files in the host's folder. */}}
{{- define "courier.config.daemonset" -}}
{{- $sl := .Values.structuredLog }}
{{- if not $sl.hostPath }}
{{- fail "structuredLog.hostPath is required in daemonset mode: the host folder of the structured log files" }}
{{- end }}
receivers:
  structured_log:
    include:
      {{- range $sl.include }}
      - {{ printf "%s/%s" (trimSuffix "/" $sl.hostPath) . | toJson }}
      {{- end }}
    {{- with $sl.exclude }}
    exclude:
      {{- range . }}
      - {{ printf "%s/%s" (trimSuffix "/" $sl.hostPath) . | toJson }}
      {{- end }}
    {{- end }}
    seek_tag_name: {{ $sl.seekTagName | toJson }}
    write_seek_tag: {{ $sl.writeSeekTag }}
    {{- if $sl.storage.enabled }}
    storage: file_storage
    {{- end }}
{{ include "courier.config.exporter" (dict "ctx" . "encoding" "jsonl") }}
{{- if $sl.storage.enabled }}
  file_storage:
    directory: {{ include "courier.paths.storage" . }}
    create_directory: true
{{- end }}
service:
  {{- include "courier.config.serviceExtensions" (dict "ctx" . "extra" (ternary (list "file_storage") (list) $sl.storage.enabled)) | nindent 2 }}
  pipelines:
    logs:
      receivers: [structured_log]
      exporters: [cloudevents]
  {{- include "courier.config.telemetry" . | nindent 2 }}
{{- end }}

{{/*
The cloudevents exporter (exporter.sink, exporter.workers, exporter.failureHandling) and the
extensions section (oidc_client from exporter.oidc, health_check); ends inside `extensions:` so
that a mode can add its own.
*/}}
{{- define "courier.config.exporter" -}}
{{- $ctx := .ctx }}
{{- $ex := $ctx.Values.exporter }}
{{- $oidc := include "courier.oidc.enabled" $ctx }}
{{- if not $ex.sink.endpoint }}
{{- fail "exporter.sink.endpoint is required" }}
{{- end }}
exporters:
  cloudevents: # exporter.sink
    endpoint: {{ $ex.sink.endpoint | toJson }}
    {{- with $ex.sink.timeout }}
    timeout: {{ . | toJson }}
    {{- end }}
    encoding: {{ $ex.sink.encoding | default .encoding | toJson }}
    {{- if $ex.sink.insecureSkipVerify }}
    tls:
      insecure_skip_verify: true
    {{- end }}
    {{- if $oidc }}
    auth:
      authenticator: oidc_client
    {{- end }}
    sending_queue:
      num_consumers: {{ $ex.workers | int64 }} # exporter.workers
    {{- with $ex.failureHandling }}
    retry_on_failure: # exporter.failureHandling
      max_retries: {{ .maxRetries | int64 }}
      initial_interval: {{ .initialBackoff | toJson }}
      max_interval: {{ .maxBackoff | toJson }}
      multiplier: {{ .backoffMultiplier }}
    {{- end }}
    {{- if $ctx.Values.deadLetter.enabled }}
    dead_letter:
      directory: {{ include "courier.paths.deadLetter" $ctx }}
      max_size: {{ $ctx.Values.deadLetter.maxSize | int64 }}
    {{- end }}
extensions:
  health_check:
    endpoint: {{ printf "0.0.0.0:%d" ($ctx.Values.ports.health | int) | toJson }}
  {{- if $oidc }}
  oidc_client: # exporter.oidc and the oidc-client-secret key of oidcSecretName
    token_url: {{ $ex.oidc.tokenUrl | toJson }}
    client_id: {{ $ex.oidc.clientId | toJson }}
    client_secret_file: {{ printf "%s/oidc-client-secret" (include "courier.paths.oidc" $ctx) | toJson }}
    {{- with splitList " " ($ex.oidc.scope | default "") | compact }}
    scopes: {{ toJson . }}
    {{- end }}
    {{- if $ex.oidc.insecureSkipVerify }}
    tls:
      insecure_skip_verify: true
    {{- end }}
  {{- end }}
{{- end }}

{{- define "courier.config.serviceExtensions" -}}
{{- $list := list "health_check" }}
{{- if include "courier.oidc.enabled" .ctx }}
{{- $list = append $list "oidc_client" }}
{{- end }}
extensions: {{ concat $list .extra | toJson }}
{{- end }}

{{/* The collector's own metrics, Prometheus format on the metrics port. */}}
{{- define "courier.config.telemetry" -}}
telemetry:
  metrics:
    level: normal
    readers:
      - pull:
          exporter:
            prometheus:
              host: 0.0.0.0
              port: {{ .Values.ports.metrics | int }}
              without_scope_info: true
              without_units: true
              without_type_suffix: true
{{- end }}

{{/* The datastore's TLS settings from the mounted certificates (datastore.tls). */}}
{{- define "courier.config.datastoreTLS" -}}
{{- $tls := .Values.datastore.tls }}
{{- if $tls.secretName }}
{{- $dir := include "courier.datastore.tlsMountPath" . }}
tls:
  ca_file: {{ printf "%s/ca.crt" $dir | toJson }}
  {{- if $tls.clientCertificate }}
  cert_file: {{ printf "%s/tls.crt" $dir | toJson }}
  key_file: {{ printf "%s/tls.key" $dir | toJson }}
  {{- end }}
  {{- if $tls.insecureSkipVerify }}
  insecure_skip_verify: true
  {{- end }}
{{- end }}
{{- end }}
