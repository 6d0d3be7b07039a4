{{/* Chart name, limited to 63 characters. */}}
{{- define "nbsync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name, with the chart name appended unless it already contains it. */}}
{{- define "nbsync.fullname" -}}
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

{{- define "nbsync.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "nbsync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nbsync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "nbsync.labels" -}}
helm.sh/chart: {{ include "nbsync.chart" . }}
{{ include "nbsync.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: nautobot-sync-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "nbsync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "nbsync.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The served namespaces: watchNamespaces, or the release namespace. */}}
{{- define "nbsync.watchNamespaces" -}}
{{- if .Values.watchNamespaces }}
{{- join "," (uniq .Values.watchNamespaces) }}
{{- else }}
{{- .Release.Namespace }}
{{- end }}
{{- end }}

{{- define "nbsync.leaseName" -}}
{{- default (include "nbsync.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{- define "nbsync.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "nbsync.caBundleConfigMap" -}}
{{- if .Values.caBundle.create }}
{{- printf "%s-trusted-ca" (include "nbsync.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- required "caBundle.configMapName is required when caBundle.enabled is true and caBundle.create is false" .Values.caBundle.configMapName }}
{{- end }}
{{- end }}

{{/* host:port for METRICS_ADDR, with brackets around an IPv6 host. */}}
{{- define "nbsync.metricsAddr" -}}
{{- if contains ":" .Values.metrics.bindAddress }}
{{- printf "[%s]:%d" .Values.metrics.bindAddress (int .Values.metrics.port) }}
{{- else }}
{{- printf "%s:%d" .Values.metrics.bindAddress (int .Values.metrics.port) }}
{{- end }}
{{- end }}

{{/* The `helm test` objects: their own name and labels, which never match the operator's selectors. */}}
{{- define "nbsync.testName" -}}
{{- printf "%s-test" (include "nbsync.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "nbsync.testSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-test" (include "nbsync.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "nbsync.testLabels" -}}
helm.sh/chart: {{ include "nbsync.chart" . }}
{{ include "nbsync.testSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: test
app.kubernetes.io/part-of: nautobot-sync-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "nbsync.testImage" -}}
{{- if .Values.tests.image.digest }}
{{- printf "%s@%s" .Values.tests.image.repository .Values.tests.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.tests.image.repository .Values.tests.image.tag }}
{{- end }}
{{- end }}
