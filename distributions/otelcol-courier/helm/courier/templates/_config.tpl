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
{{- include "courier.config.receiverDeadLetter" (dict "ctx" . "rendered" $rendered) }}
{{- include "courier.config.deadLetterReplay" (dict "ctx" . "rendered" $rendered) }}
{{- $config := mustMergeOverwrite $rendered (deepCopy (.Values.config | default dict)) }}
{{- toYaml $config }}
{{- end }}

{{/*
receiverDeadLetter: an agent exporting to Kafka dead-letters in its receiver (structured_log,
datastore) the events Kafka refuses for good even alone (a record over max_message_bytes); the
receiver splits a refused batch until the records fit.
*/}}
{{- define "courier.config.receiverDeadLetter" -}}
{{- $ctx := .ctx }}
{{- if and (eq (include "courier.output" $ctx) "kafka") $ctx.Values.deadLetter.enabled }}
{{- range $name := list "structured_log" "datastore" }}
{{- with index $.rendered.receivers $name }}
{{- $_ := set . "dead_letter" (dict "directory" (include "courier.paths.deadLetter" $ctx) "max_size" ($ctx.Values.deadLetter.maxSize | int64)) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
deadLetterReplay: adds to the rendered config (in place) a second pipeline, dead_letter →
cloudevents/replay, that sends the files of the cloudevents exporter's dead-letter directory again
(README "After a sink outage"). cloudevents/replay is the mode's cloudevents exporter with a
dead-letter directory of its own (replay-failed/, which the receiver does not read), so an event
that fails again is kept, not replayed in a loop.
*/}}
{{- define "courier.config.deadLetterReplay" -}}
{{- $ctx := .ctx }}
{{- $rendered := .rendered }}
{{- $r := $ctx.Values.deadLetterReplay | default dict }}
{{- if $r.enabled }}
{{- $ce := index ($rendered.exporters | default dict) "cloudevents" }}
{{- if not $ce }}
{{- fail "deadLetterReplay.enabled needs the cloudevents exporter (output: cloudevents, or mode: gateway)" }}
{{- end }}
{{- if not $ctx.Values.deadLetter.enabled }}
{{- fail "deadLetterReplay.enabled needs deadLetter.enabled: the dead-letter directory is what it replays" }}
{{- end }}
{{- $dir := include "courier.paths.deadLetter" $ctx }}
{{- $replay := deepCopy $ce }}
{{- /* A tenth of deadLetter.maxSize each for replay-failed/ and replayed/: the volume holds
1.2 × maxSize at most (sizeLimit's default, 128Mi, is above 1.2 × 100 MB). */}}
{{- $tenth := div ($ctx.Values.deadLetter.maxSize | int64) 10 }}
{{- $_ := set $replay "dead_letter" (dict "directory" (printf "%s/replay-failed" $dir) "max_size" $tenth) }}
{{- $_ = set $rendered.exporters "cloudevents/replay" $replay }}
{{- $recv := dict "directory" $dir "pattern" "cloudevents-*.jsonl" "done_max_size" $tenth "min_file_age" ($r.minFileAge | default "30s") "poll_interval" ($r.pollInterval | default "10s") }}
{{- with $r.reasons }}
{{- $_ = set $recv "reasons" (dict "include" .) }}
{{- end }}
{{- $_ = set $rendered.receivers "dead_letter" $recv }}
{{- $_ = set $rendered.service.pipelines "logs/replay" (dict "receivers" (list "dead_letter") "exporters" (list "cloudevents/replay")) }}
{{- end }}
{{- end }}

{{/* deployment: NVSentinel health events from the datastore. */}}
{{- define "courier.config.deployment" -}}
{{- $ds := .Values.datastore }}
{{- $ex := .Values.exporter }}
{{- $metadata := $ex.metadata | default dict }}
{{- if not $metadata.cluster }}
{{- fail "exporter.metadata.cluster is required (event-exporter.exporter.metadata.cluster in NVSentinel's values): it names the CloudEvent source nvsentinel://<cluster>/healthevents" }}
{{- end }}
{{- $plan := include "courier.datastore" . | fromYaml }}
{{- if hasKey $plan "Error" }}
{{- fail (printf "rendering the datastore settings: %s" $plan.Error) }}
{{- end }}
{{- $filter := trim (($ex.filter | default dict).expression | default "") }}
receivers:
  datastore:
    provider: {{ $plan.provider }}
    client_name: {{ $ds.clientName | toJson }}
    {{ $plan.provider }}:
      {{- toYaml $plan.receiver | nindent 6 }}
      {{- if eq $plan.provider "postgresql" }}
      poll_interval: {{ $ds.postgresql.pollInterval | toJson }}
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
  {{- if $filter }}
  cel_filter: # exporter.filter
    expression: {{ $filter | toJson }}
  {{- end }}
{{ include "courier.config.output" (dict "ctx" . "encoding" "structured") }}
service:
  {{- include "courier.config.serviceExtensions" (dict "ctx" . "extra" (list)) | nindent 2 }}
  pipelines:
    logs:
      receivers: [datastore]
      processors: [event_metadata{{ if $filter }}, cel_filter{{ end }}]
      exporters: [{{ include "courier.output" . }}]
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
{{ include "courier.config.output" (dict "ctx" . "encoding" "jsonl") }}
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
      exporters: [{{ include "courier.output" . }}]
  {{- include "courier.config.telemetry" . | nindent 2 }}
{{- end }}

{{/*
gateway: the Kafka tier's consumer. The kafka receiver reads the topic the agents write to (one
consumer group: Kafka spreads the partitions over the replicas) and the cloudevents exporter
delivers to the sink. A record's offset is marked, and committed, only after its events were
delivered or dead-lettered (message_marking.after, the exporter's wait_for_result); a failed
delivery leaves it unmarked and the partition is read again after error_backoff. A gateway that
dies resumes from the committed offsets: at-least-once, duplicates within the in-flight window.
*/}}
{{- define "courier.config.gateway" -}}
{{- $k := .Values.kafka }}
{{- if not (has $k.initialOffset (list "earliest" "latest")) }}
{{- fail (printf "kafka.initialOffset: %q is not one of earliest, latest" (toString $k.initialOffset)) }}
{{- end }}
{{- if not $k.groupId }}
{{- fail "kafka.groupId is required in gateway mode: the consumer group whose committed offsets are the gateways' progress" }}
{{- end }}
receivers:
  kafka: # kafka
    {{- include "courier.config.kafkaClient" . | nindent 4 }}
    group_id: {{ $k.groupId | toJson }}
    initial_offset: {{ $k.initialOffset | toJson }}
    logs:
      topics: [{{ $k.topic | toJson }}]
      encoding: {{ $k.encoding | toJson }}
    message_marking:
      after: true
      on_error: false
    error_backoff:
      enabled: true
      initial_interval: 1s
      max_interval: 30s
      max_elapsed_time: 0
{{- /* The chart's sink values are NVSentinel's exporter.sink: its sinks take one structured
CloudEvent per POST. An Omniverse gateway sets exporter.sink.encoding: jsonl. */}}
{{ include "courier.config.exporter" (dict "ctx" . "encoding" "structured") }}
service:
  {{- include "courier.config.serviceExtensions" (dict "ctx" . "extra" (list)) | nindent 2 }}
  pipelines:
    logs:
      receivers: [kafka]
      exporters: [cloudevents]
  {{- include "courier.config.telemetry" . | nindent 2 }}
{{- end }}

{{/*
An agent's exporter, by `output`: cloudevents (the sink) or kafka (the Kafka tier). Ends inside
`extensions:`, as courier.config.exporter does.
*/}}
{{- define "courier.config.output" -}}
{{- if eq (include "courier.output" .ctx) "kafka" }}
{{- include "courier.config.kafkaExporter" .ctx }}
{{- else }}
{{- include "courier.config.exporter" . }}
{{- end }}
{{- end }}

{{/*
The kafka exporter of an agent, at least once: the broker acknowledges a record only once every
in-sync replica has it (required_acks all), ConsumeLogs returns only then (wait_for_result), so
the receiver's checkpoint (seek tag, resume token) never passes a record Kafka does not have, and
retries never give up (max_elapsed_time 0): an unreachable Kafka stops the agent's progress, it
loses nothing.
*/}}
{{- define "courier.config.kafkaExporter" -}}
{{- $k := .Values.kafka }}
{{- $p := $k.producer | default dict }}
exporters:
  kafka: # kafka
    {{- include "courier.config.kafkaClient" . | nindent 4 }}
    logs:
      topic: {{ $k.topic | toJson }}
      encoding: {{ $k.encoding | toJson }}
    producer:
      required_acks: {{ $p.requiredAcks | toJson }}
      compression: {{ $p.compression | default "none" | toJson }}
    sending_queue:
      wait_for_result: true
      num_consumers: {{ .Values.exporter.workers | int64 }} # exporter.workers
    retry_on_failure:
      max_elapsed_time: 0
extensions:
  {{- include "courier.config.health" . | nindent 2 }}
{{- end }}

{{/*
The settings the kafka receiver and exporter share: brokers, client id, TLS from the mounted
Secrets, SASL with the password from an environment variable (never in the ConfigMap).
*/}}
{{- define "courier.config.kafkaClient" -}}
{{- $k := .Values.kafka }}
{{- include "courier.kafka.validate" . }}
brokers: {{ toJson $k.brokers }}
{{- with $k.clientId }}
client_id: {{ . | toJson }}
{{- end }}
{{- if $k.tls.enabled }}
tls:
  insecure: false
  {{- if $k.tls.caSecret.name }}
  ca_file: {{ printf "%s/ca.crt" (include "courier.paths.kafkaTLS" .) | toJson }}
  {{- end }}
  {{- if $k.tls.certSecret.name }}
  cert_file: {{ printf "%s/tls.crt" (include "courier.paths.kafkaTLS" .) | toJson }}
  key_file: {{ printf "%s/tls.key" (include "courier.paths.kafkaTLS" .) | toJson }}
  {{- end }}
  {{- if $k.tls.insecureSkipVerify }}
  insecure_skip_verify: true
  {{- end }}
{{- end }}
{{- if $k.sasl.mechanism }}
auth:
  sasl:
    mechanism: {{ $k.sasl.mechanism | toJson }}
    username: {{ $k.sasl.username | toJson }}
    password: ${env:{{ include "courier.kafka.passwordEnv" . }}}
{{- end }}
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
{{- fail "exporter.sink.endpoint is required (event-exporter.exporter.sink.endpoint in NVSentinel's values): the URL CloudEvents are POSTed to" }}
{{- end }}
{{- if $oidc }}
{{- if not $ex.oidc.tokenUrl }}
{{- fail "exporter.oidc.tokenUrl is required (event-exporter.exporter.oidc.tokenUrl in NVSentinel's values): the OAuth 2.0 token endpoint; set exporter.oidc.enabled: false to send without a token" }}
{{- end }}
{{- if not $ex.oidc.clientId }}
{{- fail "exporter.oidc.clientId is required (event-exporter.exporter.oidc.clientId in NVSentinel's values): the OAuth 2.0 client id; set exporter.oidc.enabled: false to send without a token" }}
{{- end }}
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
  {{- include "courier.config.health" $ctx | nindent 2 }}
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
{{- $list := list "healthcheckv2/live" "healthcheckv2/ready" }}
{{- if include "courier.oidc.enabled" .ctx }}
{{- $list = append $list "oidc_client" }}
{{- end }}
extensions: {{ concat $list .extra | toJson }}
{{- end }}

{{/*
Liveness and readiness (monitoring.readiness), two healthcheckv2 endpoints over the components'
status. live (ports.health): the process works; component errors never fail it, so a sink outage
restarts nothing. ready (ports.ready): a permanent error fails it at once, a recoverable one once it
has lasted monitoring.readiness.recoveryDuration; a datastore standby is ready (status OK, state
standby). README "Health" lists the states.
*/}}
{{- define "courier.config.health" -}}
healthcheckv2/live:
  use_v2: true
  http:
    endpoint: {{ printf "0.0.0.0:%d" (.Values.ports.health | int) | toJson }}
    status:
      enabled: true
      path: /
  # healthcheckv2 always serves gRPC health too; kept on loopback, the probes use HTTP.
  grpc:
    endpoint: 127.0.0.1:13132
healthcheckv2/ready:
  use_v2: true
  component_health:
    include_permanent_errors: true
    include_recoverable_errors: {{ .Values.monitoring.readiness.recoverableErrors }}
    recovery_duration: {{ .Values.monitoring.readiness.recoveryDuration | toJson }}
  http:
    endpoint: {{ printf "0.0.0.0:%d" (.Values.ports.ready | int) | toJson }}
    status:
      enabled: true
      path: /status
      include_attributes: true
  grpc:
    endpoint: 127.0.0.1:13135
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
