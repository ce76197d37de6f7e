{{/* The pod template of the Deployment and the DaemonSet. */}}
{{- define "courier.podTemplate" -}}
{{- $datastore := eq .Values.mode "deployment" }}
{{- $daemonset := eq .Values.mode "daemonset" }}
{{- $oidc := include "courier.oidc.enabled" . }}
{{- $deadLetter := include "courier.deadLetter.enabled" . }}
{{- $kafka := .Values.kafka }}
{{- $kafkaEnabled := include "courier.kafka.enabled" . }}
{{- $kafkaSASL := and $kafkaEnabled $kafka.sasl.mechanism }}
{{- $kafkaTLS := and $kafkaEnabled $kafka.tls.enabled (or $kafka.tls.caSecret.name $kafka.tls.certSecret.name) }}
{{- $gomemlimit := include "courier.gomemlimit" . -}}
{{- $plan := dict }}
{{- if $datastore }}
{{- $plan = include "courier.datastore" . | fromYaml }}
{{- end -}}
metadata:
  annotations:
    # Roll the pods when the collector config changes.
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  labels:
    {{- include "courier.labels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "courier.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.automountServiceAccountToken }}
  {{- with .Values.imagePullSecrets | default (.Values.global).imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  containers:
    - name: otelcol-courier
      image: {{ include "courier.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - --config=/etc/otelcol-courier/config.yaml
        {{- range .Values.extraArgs }}
        - {{ . | quote }}
        {{- end }}
      ports:
        - name: health
          containerPort: {{ .Values.ports.health }}
          protocol: TCP
        - name: ready
          containerPort: {{ .Values.ports.ready }}
          protocol: TCP
        - name: metrics
          containerPort: {{ .Values.ports.metrics }}
          protocol: TCP
      env:
        {{- with $gomemlimit }}
        - name: GOMEMLIMIT
          value: {{ . | quote }}
        {{- end }}
        {{- with $plan.env }}
        # The datastore's connection string, from its Secret (see courier.datastore).
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- if $kafkaSASL }}
        # kafka.sasl.passwordSecret: the SASL password, never in the ConfigMap.
        - name: {{ include "courier.kafka.passwordEnv" . }}
          valueFrom:
            secretKeyRef:
              name: {{ $kafka.sasl.passwordSecret.name }}
              key: {{ $kafka.sasl.passwordSecret.key | default "password" }}
        {{- end }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with concat ($plan.envFrom | default list) .Values.extraEnvFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.livenessProbe }}
      livenessProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.readinessProbe }}
      readinessProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: {{ include "courier.paths.config" . }}
          readOnly: true
        {{- if $oidc }}
        - name: oidc-secret
          mountPath: {{ include "courier.paths.oidc" . }}
          readOnly: true
        {{- end }}
        {{- if $deadLetter }}
        - name: dead-letter
          mountPath: {{ include "courier.paths.deadLetter" . }}
        {{- end }}
        {{- if $kafkaTLS }}
        - name: kafka-tls
          mountPath: {{ include "courier.paths.kafkaTLS" . }}
          readOnly: true
        {{- end }}
        {{- with $plan.mount }}
        - {{ toYaml . | nindent 10 | trim }}
        {{- end }}
        {{- if $daemonset }}
        # Read-write: seek tags are written into the file headers.
        - name: structured-logs
          mountPath: {{ .Values.structuredLog.hostPath }}
        {{- if .Values.structuredLog.storage.enabled }}
        - name: storage
          mountPath: {{ include "courier.paths.storage" . }}
        {{- end }}
        {{- end }}
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "courier.fullname" . }}
        items:
          - key: config.yaml
            path: config.yaml
    {{- if $oidc }}
    - name: oidc-secret
      secret:
        secretName: {{ required "oidcSecretName is required with exporter.oidc.tokenUrl" .Values.oidcSecretName }}
        items:
          - key: oidc-client-secret
            path: oidc-client-secret
        defaultMode: 0440
    {{- end }}
    {{- if $deadLetter }}
    - name: dead-letter
      {{- if .Values.deadLetter.existingClaim }}
      persistentVolumeClaim:
        claimName: {{ .Values.deadLetter.existingClaim }}
      {{- else }}
      emptyDir:
        sizeLimit: {{ .Values.deadLetter.sizeLimit }}
      {{- end }}
    {{- end }}
    {{- if $kafkaTLS }}
    - name: kafka-tls
      projected:
        sources:
          {{- with $kafka.tls.caSecret }}
          {{- if .name }}
          - secret:
              name: {{ .name }}
              items:
                - key: {{ .key | default "ca.crt" }}
                  path: ca.crt
          {{- end }}
          {{- end }}
          {{- with $kafka.tls.certSecret }}
          {{- if .name }}
          - secret:
              name: {{ .name }}
              items:
                - key: {{ .certKey | default "tls.crt" }}
                  path: tls.crt
                - key: {{ .keyKey | default "tls.key" }}
                  path: tls.key
          {{- end }}
          {{- end }}
        # Group-readable through fsGroup, and no more: the client key is a secret.
        defaultMode: 0440
    {{- end }}
    {{- with $plan.volume }}
    - {{ toYaml . | nindent 6 | trim }}
    {{- end }}
    {{- if $daemonset }}
    - name: structured-logs
      hostPath:
        path: {{ .Values.structuredLog.hostPath }}
        type: DirectoryOrCreate
    {{- if .Values.structuredLog.storage.enabled }}
    - name: storage
      hostPath:
        path: {{ .Values.structuredLog.storage.hostPath }}
        type: DirectoryOrCreate
    {{- end }}
    {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with (.Values.global).systemNodeSelector | default .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with (.Values.global).systemNodeTolerations | default .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- $affinity := (.Values.global).affinity | default .Values.affinity }}
  {{- if $affinity }}
  affinity:
    {{- toYaml $affinity | nindent 4 }}
  {{- else if and (not $daemonset) (gt (int .Values.replicas) 1) }}
  # Replicas on different nodes, so that losing one node leaves a standby (deployment) or the
  # other consumers of the group (gateway) to take over.
  affinity:
    podAntiAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 100
          podAffinityTerm:
            topologyKey: kubernetes.io/hostname
            labelSelector:
              matchLabels:
                {{- include "courier.selectorLabels" . | nindent 16 }}
  {{- end }}
{{- end }}
