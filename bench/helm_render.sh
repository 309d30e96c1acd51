#!/usr/bin/env bash
# KubeFATE's render of a cluster.yaml (reference section 0): values-template.yaml, then the chart.
# usage: helm_render.sh HELM CHART_DIR CLUSTER_YAML WORK_DIR
set -euo pipefail
helm=$1 chart=$2 cluster=$3 work=$4
mkdir -p "$work/vt/templates"
printf 'apiVersion: v2\nname: vt\nversion: 0.1.0\n' > "$work/vt/Chart.yaml"
{ echo '{{- with .Values }}'; cat "$chart/values-template.yaml"; echo '{{- end }}'; } > "$work/vt/templates/values.yaml"
"$helm" template vt "$work/vt" -f "$cluster" | sed '1,/^# Source/d' > "$work/values.gen.yaml"
name=$(sed -n 's/^name: *//p' "$cluster" | head -1)
ns=$(sed -n 's/^namespace: *//p' "$cluster" | head -1)
"$helm" template "$name" "$chart" -n "$ns" -f "$work/values.gen.yaml" > "$work/manifest.yaml"
