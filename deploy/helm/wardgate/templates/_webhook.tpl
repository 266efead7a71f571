{{/*
The MutatingWebhookConfiguration, given (dict "root" $ "caBundle" "<base64 PEM>"); an empty caBundle means
cert-manager's CA injector fills it in.
*/}}
{{- define "wardgate.webhookConfiguration" -}}
{{- $root := .root -}}
{{- $fullname := include "wardgate.fullname" $root -}}
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "wardgate.labels" $root | nindent 4 }}
  {{- if not .caBundle }}
  annotations:
    cert-manager.io/inject-ca-from: {{ $root.Release.Namespace }}/{{ $fullname }}-webhook
  {{- end }}
webhooks:
  - name: inject.wardgate.dev
    admissionReviewVersions: ["v1"]
    sideEffects: None
    # Injection changes the pod once; a later webhook's change needs no second pass (it is idempotent anyway).
    reinvocationPolicy: Never
    failurePolicy: {{ $root.Values.webhook.failurePolicy }}
    timeoutSeconds: {{ $root.Values.webhook.timeoutSeconds }}
    clientConfig:
      service:
        name: {{ $fullname }}-webhook
        namespace: {{ $root.Release.Namespace }}
        path: /mutate
        port: 443
      {{- if .caBundle }}
      caBundle: {{ .caBundle }}
      {{- end }}
    rules:
      - operations: ["CREATE"]
        apiGroups: [""]
        apiVersions: ["v1"]
        resources: ["pods"]
        scope: Namespaced
    namespaceSelector:
      {{- toYaml $root.Values.webhook.namespaceSelector | nindent 6 }}
    objectSelector:
      # The webhook's own pods are never injected.
      matchExpressions:
        - key: app.kubernetes.io/part-of
          operator: NotIn
          values: ["wardgate"]
{{- end -}}
