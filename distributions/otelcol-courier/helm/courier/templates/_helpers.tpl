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

{{/*
Fails on a mode this chart does not render. `gateway` is reserved: a later version adds it.
*/}}
{{- define "courier.validateMode" -}}
{{- if not (has .Values.mode (list "deployment" "daemonset")) }}
{{- fail (printf "mode: %q is not one of deployment, daemonset" .Values.mode) }}
{{- end }}
{{- end }}

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

{{/* The datastore connection string's environment variable and Secret key. */}}
{{- define "courier.datastore.envName" -}}
{{- ternary "COURIER_DATASTORE_URI" "COURIER_DATASTORE_DSN" (eq .Values.datastore.provider "mongodb") }}
{{- end }}

{{- define "courier.datastore.secretKey" -}}
{{- default (ternary "MONGODB_URI" "dsn" (eq .Values.datastore.provider "mongodb")) .Values.datastore.connectionSecret.key }}
{{- end }}

{{/* Where the datastore's certificates are mounted: NVSentinel's paths by default. */}}
{{- define "courier.datastore.tlsMountPath" -}}
{{- default (ternary "/etc/ssl/mongo-client" "/etc/ssl/client-certs" (eq .Values.datastore.provider "mongodb")) .Values.datastore.tls.mountPath }}
{{- end }}

{{/* True when the exporter authenticates with oidc_client. */}}
{{- define "courier.oidc.enabled" -}}
{{- if ((.Values.exporter).oidc).tokenUrl }}true{{ end }}
{{- end }}

{{- define "courier.paths.config" -}}/etc/otelcol-courier{{- end }}
{{- define "courier.paths.oidc" -}}/etc/otelcol-courier-secrets/oidc{{- end }}
{{- define "courier.paths.deadLetter" -}}/var/lib/otelcol-courier/dead-letter{{- end }}
{{- define "courier.paths.storage" -}}/var/lib/otelcol-courier/storage{{- end }}
