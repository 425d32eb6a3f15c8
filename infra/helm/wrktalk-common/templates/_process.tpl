{{/*
Labels of one process of a release.
Call with (dict "root" $ "component" "api").
*/}}
{{- define "wrktalk-common.labels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "wrktalk-common.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
The environment of every process: plain settings from a ConfigMap, secrets from an existing
Secret that the operator creates (the chart never holds a secret value).
*/}}
{{- define "wrktalk-common.envFrom" -}}
- configMapRef:
    name: {{ .root.Release.Name }}-settings
- secretRef:
    name: {{ required "existingSecret is required: the Secret holding database URL, tokens and keys" .root.Values.existingSecret }}
{{- end -}}

{{/*
A Deployment running one process of the service image.
Call with (dict "root" $ "component" "worker" "args" (list "worker") "replicas" 1 "port" 0
"metricsPort" 0 "serviceAccount" "" "mounts" (list)).
With "metricsPort" the pod declares that port and carries the prometheus.io scrape
annotations, which Prometheus's Kubernetes pod discovery reads. Each of "mounts" is a dict with
"name", "mountPath" and either "secretName" (a Secret mounted read-only, such as signing keys)
or "claimName" (a PersistentVolumeClaim; empty: an emptyDir).
*/}}
{{- define "wrktalk-common.deployment" -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .root.Release.Name }}-{{ .component }}
  labels:
    {{- include "wrktalk-common.labels" . | nindent 4 }}
spec:
  replicas: {{ .replicas | default 1 }}
  selector:
    matchLabels:
      {{- include "wrktalk-common.selector" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "wrktalk-common.selector" . | nindent 8 }}
      {{- if .metricsPort }}
      annotations:
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ .metricsPort | quote }}
        prometheus.io/path: /metrics
      {{- end }}
    spec:
      {{- if .serviceAccount }}
      serviceAccountName: {{ .serviceAccount }}
      {{- end }}
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
      containers:
        - name: {{ .component }}
          image: {{ printf "%s:%s" (.image | default .root.Values.image.repository) (.root.Values.image.tag | default .root.Chart.AppVersion) | quote }}
          imagePullPolicy: {{ .root.Values.image.pullPolicy }}
          args:
            {{- toYaml .args | nindent 12 }}
          envFrom:
            {{- include "wrktalk-common.envFrom" . | nindent 12 }}
          {{- if or .port .metricsPort }}
          ports:
            {{- if .port }}
            - name: http
              containerPort: {{ .port }}
            {{- end }}
            {{- if .metricsPort }}
            - name: metrics
              containerPort: {{ .metricsPort }}
            {{- end }}
          {{- end }}
          {{- if .port }}
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            periodSeconds: 10
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 20
          {{- end }}
          resources:
            {{- toYaml (.resources | default dict) | nindent 12 }}
          {{- with .mounts }}
          volumeMounts:
            {{- range . }}
            - name: {{ .name }}
              mountPath: {{ .mountPath }}
              readOnly: {{ hasKey . "secretName" }}
            {{- end }}
          {{- end }}
      {{- with .mounts }}
      volumes:
        {{- range . }}
        - name: {{ .name }}
          {{- if hasKey . "secretName" }}
          secret:
            secretName: {{ .secretName }}
            defaultMode: 0400
          {{- else if .claimName }}
          persistentVolumeClaim:
            claimName: {{ .claimName }}
          {{- else }}
          emptyDir: {}
          {{- end }}
        {{- end }}
      {{- end }}
{{- end -}}

{{/*
The migrations Job: runs before install and upgrade, so the API never starts against an
old schema (it refuses to, and would stay unready).
*/}}
{{- define "wrktalk-common.migrations" -}}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .root.Release.Name }}-migrate-{{ .root.Release.Revision }}
  labels:
    {{- include "wrktalk-common.labels" (dict "root" .root "component" "migrate") | nindent 4 }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "0"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: 3
  template:
    spec:
      restartPolicy: Never
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
      containers:
        - name: migrate
          image: {{ printf "%s:%s" .root.Values.image.repository (.root.Values.image.tag | default .root.Chart.AppVersion) | quote }}
          args:
            {{- toYaml .args | nindent 12 }}
          envFrom:
            {{- include "wrktalk-common.envFrom" . | nindent 12 }}
{{- end -}}

{{/*
The ConfigMap of plain settings. Hook-created before the migrations Job needs it.
*/}}
{{- define "wrktalk-common.settings" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .root.Release.Name }}-settings
  labels:
    {{- include "wrktalk-common.labels" (dict "root" .root "component" "settings") | nindent 4 }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-5"
    helm.sh/hook-delete-policy: before-hook-creation
data:
  {{- range $key, $value := .settings }}
  {{ $key }}: {{ $value | quote }}
  {{- end }}
{{- end -}}
