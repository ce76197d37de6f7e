{{/* Name of the chart, or nameOverride. */}}
{{- define "courier.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: <release>-<chart>, or the release name when it contains the chart's. */}}
{{- define "courier.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "courier.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "courier.labels" -}}
helm.sh/chart: {{ include "courier.chart" . }}
{{ include "courier.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: {{ .Values.mode }}
app.kubernetes.io/part-of: courier
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "courier.selectorLabels" -}}
app.kubernetes.io/name: {{ include "courier.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "courier.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "courier.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "courier.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Fails on a mode or an output this chart does not render. */}}
{{- define "courier.validateMode" -}}
{{- if not (has .Values.mode (list "deployment" "daemonset" "gateway")) }}
{{- fail (printf "mode: %q is not one of deployment, daemonset, gateway" (toString .Values.mode)) }}
{{- end }}
{{- if not (has .Values.output (list "cloudevents" "kafka")) }}
{{- fail (printf "output: %q is not one of cloudevents, kafka" (toString .Values.output)) }}
{{- end }}
{{- end }}

{{/*
What the collector exports to: `cloudevents` (the sink) or `kafka` (the Kafka tier). A gateway
always exports to the sink; `output` chooses for the agents (deployment and daemonset modes).
*/}}
{{- define "courier.output" -}}
{{- ternary "cloudevents" .Values.output (eq .Values.mode "gateway") }}
{{- end }}

{{/* True when the collector talks to Kafka: a gateway, or an agent with output kafka. */}}
{{- define "courier.kafka.enabled" -}}
{{- if or (eq .Values.mode "gateway") (eq (include "courier.output" .) "kafka") }}true{{ end }}
{{- end }}

{{/* True when dead letters are written (a volume is mounted for them): the cloudevents
exporter's, or with output kafka the receiver's (events too large for a Kafka record alone). */}}
{{- define "courier.deadLetter.enabled" -}}
{{- if .Values.deadLetter.enabled }}true{{ end }}
{{- end }}

{{/* The Kafka values that must hold wherever the chart talks to Kafka. */}}
{{- define "courier.kafka.validate" -}}
{{- $k := .Values.kafka }}
{{- $where := ternary "in gateway mode" "with output: kafka" (eq .Values.mode "gateway") }}
{{- if not (kindIs "slice" $k.brokers) }}
{{- fail (printf "kafka.brokers must be a list of host:port, e.g. [kafka-0.kafka:9092, kafka-1.kafka:9092]; got %q" (toString $k.brokers)) }}
{{- end }}
{{- if not $k.brokers }}
{{- fail (printf "kafka.brokers is required %s: the Kafka bootstrap servers, e.g. [kafka-0.kafka:9092]" $where) }}
{{- end }}
{{- range $k.brokers }}
{{- if not (and (kindIs "string" .) .) }}
{{- fail (printf "kafka.brokers: %q is not a host:port" (toString .)) }}
{{- end }}
{{- end }}
{{- if not $k.topic }}
{{- fail (printf "kafka.topic is required %s" $where) }}
{{- end }}
{{- if ne (toString $k.encoding) "otlp_proto" }}
{{- fail (printf "kafka.encoding: %q is not supported: only otlp_proto carries the log records, and so the CloudEvents, exactly" (toString $k.encoding)) }}
{{- end }}
{{- if and (or $k.tls.caSecret.name $k.tls.certSecret.name $k.tls.insecureSkipVerify) (not $k.tls.enabled) }}
{{- fail "kafka.tls.caSecret, certSecret and insecureSkipVerify need kafka.tls.enabled: true" }}
{{- end }}
{{- if hasKey $k.sasl "password" }}
{{- fail "kafka.sasl.password is not read: a password never goes into the ConfigMap; put it in a Secret and name it in kafka.sasl.passwordSecret" }}
{{- end }}
{{- with $k.sasl.mechanism }}
{{- if not (has . (list "PLAIN" "SCRAM-SHA-256" "SCRAM-SHA-512")) }}
{{- fail (printf "kafka.sasl.mechanism: %q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (other mechanisms: the `config` value)" (toString .)) }}
{{- end }}
{{- if not $k.sasl.username }}
{{- fail "kafka.sasl.username is required with kafka.sasl.mechanism" }}
{{- end }}
{{- if not $k.sasl.passwordSecret.name }}
{{- fail "kafka.sasl.passwordSecret.name is required with kafka.sasl.mechanism: the Secret holding the SASL password" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The SASL password's environment variable. */}}
{{- define "courier.kafka.passwordEnv" -}}COURIER_KAFKA_SASL_PASSWORD{{- end }}

{{/*
GOMEMLIMIT: 80 % of limits.memory, in MiB, so the Go runtime collects harder before the
container is OOM-killed (the rest is headroom for memory the GC does not account for).
Empty when no memory limit is set. Accepts Kubernetes quantities: plain bytes, k/M/G/T, Ki/Mi/Gi/Ti.
*/}}
{{- define "courier.gomemlimit" -}}
{{- $limit := ((.Values.resources).limits).memory -}}
{{- if $limit -}}
{{- $q := toString $limit -}}
{{- $num := regexFind "^[0-9]+(\\.[0-9]+)?" $q -}}
{{- $suffix := trimPrefix $num $q -}}
{{- $units := dict "" 1 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 -}}
{{- if or (not $num) (not (hasKey $units $suffix)) -}}
{{- fail (printf "resources.limits.memory: %q is not a memory quantity this chart understands" $q) -}}
{{- end -}}
{{- $bytes := mulf (float64 $num) (float64 (get $units $suffix)) -}}
{{- printf "%dMiB" (int (floor (divf (mulf $bytes 0.8) 1048576))) -}}
{{- end -}}
{{- end }}

{{/* True when the cloudevents exporter authenticates with oidc_client. */}}
{{- define "courier.oidc.enabled" -}}
{{- if and (((.Values.exporter).oidc).enabled | default false) (eq (include "courier.output" .) "cloudevents") }}true{{ end }}
{{- end }}

{{- define "courier.paths.config" -}}/etc/otelcol-courier{{- end }}
{{- define "courier.paths.oidc" -}}/etc/otelcol-courier-secrets/oidc{{- end }}
{{- define "courier.paths.deadLetter" -}}/var/lib/otelcol-courier/dead-letter{{- end }}
{{- define "courier.paths.storage" -}}/var/lib/otelcol-courier/storage{{- end }}
{{- define "courier.paths.kafkaTLS" -}}/etc/otelcol-courier-secrets/kafka-tls{{- end }}

{{/*
Reads NVSentinel's values as NVSentinel writes them, by rewriting .Values once, before anything
reads it (every template file includes this first; a second run changes nothing):
- an `event-exporter:` block (an NVSentinel values file given to this chart as is) is merged
  over the top-level values (maps merge, anything else replaces, as Helm merges values files);
- `metadata:` directly in the block (NVSentinel's documentation writes it there) is merged into
  exporter.metadata, exporter.metadata winning on the same key;
- `replicaCount` (NVSentinel's name) sets `replicas`;
- an empty ports.metrics is NVSentinel's global.metricsPort, else 8888.
*/}}
{{- define "courier.normalize" -}}
{{- $v := .Values }}
{{- with (index $v "event-exporter") }}
{{- include "courier.merge" (dict "dst" $v "src" .) }}
{{- end }}
{{- $_ := unset $v "event-exporter" }}
{{- with $v.metadata }}
{{- $md := deepCopy . }}
{{- include "courier.merge" (dict "dst" $md "src" (($v.exporter).metadata | default dict)) }}
{{- $_ := set $v.exporter "metadata" $md }}
{{- $_ := set $v "metadata" dict }}
{{- end }}
{{- if kindIs "invalid" $v.ports.metrics }}
{{- $_ := set $v.ports "metrics" (($v.global).metricsPort | default 8888) }}
{{- end }}
{{- if not (kindIs "invalid" $v.replicaCount) }}
{{- $_ := set $v "replicas" $v.replicaCount }}
{{- $_ := set $v "replicaCount" nil }}
{{- end }}
{{- if contains "nvsentinel/event-exporter" (toString ($v.image).repository) }}
{{- fail (printf "image.repository: %q is NVSentinel's exporter image, which does not run Courier's configuration; remove the event-exporter image block (the chart's own image is the default)" (toString $v.image.repository)) }}
{{- end }}
{{- end }}

{{/* Merges .src into .dst in place: maps merge, anything else replaces. */}}
{{- define "courier.merge" -}}
{{- $dst := .dst }}
{{- range $k, $val := .src }}
{{- if and (kindIs "map" $val) (kindIs "map" (index $dst $k)) }}
{{- include "courier.merge" (dict "dst" (index $dst $k) "src" $val) }}
{{- else }}
{{- $_ := set $dst $k $val }}
{{- end }}
{{- end }}
{{- end }}
