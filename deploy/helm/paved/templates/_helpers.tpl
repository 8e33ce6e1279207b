{{/* The chart's name, cut to Kubernetes' 63 characters. */}}
{{- define "paved.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-scoped name of every object. */}}
{{- define "paved.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "paved.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "paved.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "paved.selectorLabels" -}}
app.kubernetes.io/name: {{ include "paved.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "paved.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "paved.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: paved
{{- end }}

{{- define "paved.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "paved.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "paved.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* How Backstage and people reach paved inside the cluster. */}}
{{- define "paved.serviceURL" -}}
{{- printf "http://%s.%s.svc.cluster.local:%d" (include "paved.fullname" .) .Release.Namespace (int .Values.service.port) }}
{{- end }}

{{/* Mount points inside the container. */}}
{{- define "paved.configPath" -}}/etc/paved/config.yaml{{- end }}
{{- define "paved.kindsDir" -}}/etc/paved/infra-kinds{{- end }}
{{- define "paved.dataDir" -}}/var/lib/paved{{- end }}
{{- define "paved.sshKeyPath" -}}/etc/paved/gitops-ssh/id{{- end }}

{{/*
paved's configuration file: the user's config with what the chart owns. Values
are data: rendered with toYaml, never through tpl, so a value holding
"{{pluginId}}" or "${VAR}" reaches paved as written.
*/}}
{{- define "paved.config" -}}
{{- $cfg := deepCopy (.Values.config | default dict) }}
{{- $_ := set $cfg "pluginId" .Values.pluginId }}
{{- $_ := set $cfg "baseUrl" (.Values.baseUrl | default (include "paved.serviceURL" .)) }}
{{- $infra := get $cfg "infra" | default dict }}
{{- if not (hasKey $infra "kindsDir") }}
{{- $_ := set $infra "kindsDir" (include "paved.kindsDir" .) }}
{{- end }}
{{- $_ := set $cfg "infra" $infra }}
{{- toYaml $cfg }}
{{- end }}

{{/* Refusals the JSON Schema cannot word well. */}}
{{- define "paved.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (ne .Values.database.engine "postgres") }}
{{- fail "replicaCount > 1 needs database.engine: postgres — SQLite is a file one process owns" }}
{{- end }}
{{- if and (eq .Values.database.engine "postgres") (not .Values.secrets.existingSecret) }}
{{- fail "database.engine: postgres needs secrets.existingSecret holding the database URL (key secrets.keys.databaseUrl) and the infra key (secrets.keys.infraKey), which every replica must share" }}
{{- end }}
{{- range $k := list "listen" "dataDir" "database" }}
{{- if hasKey ($.Values.config | default dict) $k }}
{{- fail (printf "config.%s is set by the chart (containerPort, the data volume, database.engine and secrets): remove it" $k) }}
{{- end }}
{{- end }}
{{- end }}
