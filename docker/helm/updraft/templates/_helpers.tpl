{{- define "updraft.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "updraft.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "updraft.selectorLabels" -}}
app.kubernetes.io/name: {{ include "updraft.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "updraft.labels" -}}
{{ include "updraft.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Whether the chart writes a Secret of its own (database URL or admin password given inline). */}}
{{- define "updraft.ownSecret" -}}
{{- if or (and .Values.database.url (not .Values.database.existingSecret)) (and .Values.admin.password (not .Values.admin.existingSecret)) -}}true{{- end -}}
{{- end -}}

{{/* Refuses settings that cannot work, with a sentence saying what to set. */}}
{{- define "updraft.validate" -}}
{{- $postgres := or .Values.database.existingSecret (hasPrefix "postgres" .Values.database.url) -}}
{{- if and .Values.database.url (not (hasPrefix "postgres" .Values.database.url)) -}}
{{- fail "database.url must be a postgres:// URL (leave it empty for SQLite on the data volume)" -}}
{{- end -}}
{{- if gt (int .Values.replicaCount) 1 -}}
{{- if not $postgres -}}
{{- fail (printf "replicaCount %d needs PostgreSQL: set database.url (postgres://...) or database.existingSecret; SQLite serves one replica only" (int .Values.replicaCount)) -}}
{{- end -}}
{{- if and (ne .Values.storage.type "s3") (not (and .Values.persistence.enabled .Values.persistence.existingClaim (has "ReadWriteMany" .Values.persistence.accessModes))) -}}
{{- fail "several replicas need artifact storage every pod sees: storage.type=s3, or persistence.existingClaim on a ReadWriteMany volume (with accessModes [ReadWriteMany])" -}}
{{- end -}}
{{- end -}}
{{- if not (has .Values.storage.type (list "filesystem" "s3")) -}}
{{- fail "storage.type must be filesystem or s3" -}}
{{- end -}}
{{- if and (eq .Values.storage.type "s3") (not .Values.storage.s3.bucket) -}}
{{- fail "storage.type=s3 needs storage.s3.bucket" -}}
{{- end -}}
{{- end -}}
