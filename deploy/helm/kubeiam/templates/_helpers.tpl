{{/* Names: a CronJob name may have 52 characters (its Jobs add 11). */}}
{{- define "kubeiam.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 52 | trimSuffix "-" }}
{{- end }}

{{- define "kubeiam.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "kubeiam.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kubeiam.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kubeiam.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "kubeiam.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "kubeiam.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kubeiam.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name: the ServiceAccount to run as when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "kubeiam.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The clouds to query: audit.clouds, else those workloadIdentity configures (JSON list). */}}
{{- define "kubeiam.clouds" -}}
{{- $wi := .Values.workloadIdentity }}
{{- $clouds := list }}
{{- if .Values.audit.clouds }}
{{- $clouds = .Values.audit.clouds }}
{{- else }}
{{- if or $wi.aws.roleArn $wi.aws.podIdentity }}{{ $clouds = append $clouds "aws" }}{{ end }}
{{- if or $wi.gcp.serviceAccount $wi.gcp.federation }}{{ $clouds = append $clouds "gcp" }}{{ end }}
{{- if $wi.azure.clientId }}{{ $clouds = append $clouds "azure" }}{{ end }}
{{- end }}
{{- toJson $clouds }}
{{- end }}

{{/* "true" when the report folder is a path on the reports volume. */}}
{{- define "kubeiam.localReports" -}}
{{- if hasPrefix "/" .Values.audit.reportDir }}true{{ end }}
{{- end }}

{{- define "kubeiam.reportsClaim" -}}
{{- default (printf "%s-reports" (include "kubeiam.fullname" .)) .Values.reports.persistence.existingClaim }}
{{- end }}
