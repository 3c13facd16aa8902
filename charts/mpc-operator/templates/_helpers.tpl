{{- define "mpc-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "mpc-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Whether to render Prometheus Operator objects: the API exists, or the values say to assume it. */}}
{{- define "mpc-operator.monitoringApi" -}}
{{- if or .Values.metrics.assumeMonitoringApi (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1") -}}
true
{{- end -}}
{{- end -}}

{{- define "mpc-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mpc-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "mpc-operator.labels" -}}
{{ include "mpc-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mpc-platform
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "mpc-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "mpc-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
The operator's rules, the same in the cluster-wide ClusterRole and in each watched namespace's
Role. Exactly the verbs it uses (server-side apply = patch, plus create for first apply).
*/}}
{{- define "mpc-operator.operatorRules" -}}
- apiGroups: [mpc-platform.dev]
  resources: [mpcclusters]
  # patch: only to remove the mpc-platform.dev/unpin and /repin annotations once applied.
  verbs: [get, list, watch, patch]
- apiGroups: [mpc-platform.dev]
  resources: [mpcclusters/status]
  verbs: [get, patch, update]
- apiGroups: [mpc-platform.dev]
  resources: [mpcclusters/finalizers]
  verbs: [update]
# Online backups: schedules create and prune their one-off MpcBackups; get/list/watch is
# also what the operator grants each cluster's signers (per-cluster Role, with spec.backup).
- apiGroups: [mpc-platform.dev]
  resources: [mpcbackups]
  verbs: [get, list, watch, create, delete]
- apiGroups: [mpc-platform.dev]
  resources: [mpcbackups/status]
  verbs: [get, patch, update]
- apiGroups: [apps]
  resources: [statefulsets]
  verbs: [get, list, watch, create, patch]
- apiGroups: [""]
  resources: [services, configmaps, serviceaccounts]
  verbs: [get, create, patch]
# create only: generated Secrets, and a dry-run create as the existence check of referenced
# ones (409 = exists). Never get/list/watch: the operator cannot read any Secret.
- apiGroups: [""]
  resources: [secrets]
  verbs: [create]
# delete: signer StatefulSets use the OnDelete strategy; the operator replaces one signer
# pod at a time while the quorum guard allows (only the operator restarts signers).
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch, delete]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [get, create, patch]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, create, patch]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, list, watch]
{{- end -}}

{{/* The signers' rules (bound per cluster by the operator, in the cluster's namespace). */}}
{{- define "mpc-operator.signerRules" -}}
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, list, watch, create, update, patch]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
{{- end -}}
