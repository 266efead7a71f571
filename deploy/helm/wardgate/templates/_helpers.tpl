{{- define "wardgate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "wardgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: wardgate
{{- end -}}

{{/* Selector labels for one component: (dict "root" $ "component" "webhook") */}}
{{- define "wardgate.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Pod labels beside the selector: the webhook's objectSelector skips pods that are part of wardgate. */}}
{{- define "wardgate.podLabels" -}}
app.kubernetes.io/part-of: wardgate
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* nodeSelector, tolerations and affinity of one component's values, each only when set. */}}
{{- define "wardgate.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "wardgate.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "wardgate.opaUrl" -}}
{{- if eq .Values.opa.mode "sidecar" -}}
http://127.0.0.1:8181
{{- else -}}
{{- printf "http://%s-opa.%s.svc:8181" (include "wardgate.fullname" .) .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{/* wardgate.yaml: the chart's defaults for a pod in Kubernetes, with .Values.config over them. */}}
{{- define "wardgate.config" -}}
{{- $policy := dict "dir" "/etc/wardgate/policies" "watch" true -}}
{{- if ne .Values.opa.mode "embedded" -}}
{{- $_ := set $policy "engine" "opa" -}}
{{- $_ := set $policy "opa_url" (include "wardgate.opaUrl" .) -}}
{{- end -}}
{{- $defaults := dict "policy" $policy "audit" (dict "stdout" true "file" nil) -}}
{{- if or .Values.redis.enabled .Values.redis.url -}}
{{- $url := .Values.redis.url | default (printf "redis://%s-redis.%s.svc:6379/0" (include "wardgate.fullname" .) .Release.Namespace) -}}
{{- $_ := set $defaults "limits" (dict "usage" "redis" "redis_url" $url) -}}
{{- end -}}
{{- toYaml (mustMergeOverwrite $defaults (deepCopy .Values.config)) -}}
{{- end -}}

{{/* The policy bundle as ConfigMap data: the user's files, or the default bundle without its tests. */}}
{{- define "wardgate.policyFiles" -}}
{{- if .Values.policies.files -}}
{{- toYaml .Values.policies.files -}}
{{- else -}}
{{- $files := dict -}}
{{- range $path, $_ := .Files.Glob "policies/**" -}}
{{- $name := base $path -}}
{{- if or (and (hasSuffix ".rego" $name) (not (hasSuffix "_test.rego" $name))) (eq $name "data.json") -}}
{{- if hasKey $files $name -}}
{{- fail (printf "policies: two files named %s; a ConfigMap is flat" $name) -}}
{{- end -}}
{{- $_ := set $files $name ($.Files.Get $path) -}}
{{- end -}}
{{- end -}}
{{- toYaml $files -}}
{{- end -}}
{{- end -}}

{{/* Namespaces that need the per-namespace objects (sidecars' volumes, the gateway's and OPA's mounts). */}}
{{- define "wardgate.namespaces" -}}
{{- $namespaces := .Values.injection.namespaces -}}
{{- if or .Values.gateway.enabled (eq .Values.opa.mode "deployment") -}}
{{- $namespaces = append $namespaces .Release.Namespace -}}
{{- end -}}
{{- toJson (uniq $namespaces) -}}
{{- end -}}

{{- define "wardgate.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "wardgate.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}
