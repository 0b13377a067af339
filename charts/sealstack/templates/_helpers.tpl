{{/* The chart name, or nameOverride. */}}
{{- define "sealstack.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Prefix of object names: fullnameOverride, else the release name (with the chart name when it lacks it). */}}
{{- define "sealstack.fullname" -}}
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

{{/* Name of the operator's objects: `<fullname>-operator`. */}}
{{- define "sealstack.operator.fullname" -}}
{{- printf "%s-operator" (include "sealstack.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sealstack.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object of the release (without a component). */}}
{{- define "sealstack.commonLabels" -}}
helm.sh/chart: {{ include "sealstack.chart" . }}
app.kubernetes.io/name: {{ include "sealstack.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sealstack
{{- end }}

{{/* Labels of the operator's objects. */}}
{{- define "sealstack.labels" -}}
{{ include "sealstack.commonLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/* Labels of the monitoring objects (PodMonitor, dashboard). */}}
{{- define "sealstack.monitoringLabels" -}}
{{ include "sealstack.commonLabels" . }}
app.kubernetes.io/component: monitoring
{{- end }}

{{/* Labels selecting the operator's pods (never changed by an upgrade: Deployment selectors are immutable). */}}
{{- define "sealstack.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sealstack.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "sealstack.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sealstack.operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sealstack.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "sealstack.runtimeImage" -}}
{{- printf "%s:%s" .Values.runtimeImage.repository (default .Chart.AppVersion .Values.runtimeImage.tag) }}
{{- end }}

{{- define "sealstack.leaseName" -}}
{{- if .Values.leaderElection.enabled }}
{{- default (include "sealstack.operator.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}
{{- end }}

{{/* The namespaces the operator watches, as a JSON list (read it with fromJsonArray): watchNamespaces, and the
older single watchNamespace, without repeats. Empty: every namespace. */}}
{{- define "sealstack.watchNamespaces" -}}
{{- $namespaces := .Values.watchNamespaces | default list }}
{{- with .Values.watchNamespace }}
{{- $namespaces = append $namespaces . }}
{{- end }}
{{- $namespaces | uniq | toJson }}
{{- end }}
