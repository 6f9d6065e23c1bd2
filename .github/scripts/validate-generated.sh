#!/usr/bin/env bash
# validate-generated.sh - the real tools on the committed generated/ tree, the way an operator's
# machine would run them. Each family is checked only when it exists, and says so when it is not.
# Needs the validators of install-validators.sh on PATH; Traefik schemas come from
# $TRAEFIK_SCHEMA (static) and $TRAEFIK_FILE_SCHEMA (dynamic), paths or URLs (default: SchemaStore).
# Terraform `init`/`validate` need the provider download and run in the workflow, not here.
set -euo pipefail

cd "$(dirname "$0")/../.."
G=generated
TRAEFIK_SCHEMA="${TRAEFIK_SCHEMA:-https://www.schemastore.org/traefik-v3.json}"
TRAEFIK_FILE_SCHEMA="${TRAEFIK_FILE_SCHEMA:-https://www.schemastore.org/traefik-v3-file-provider.json}"

step() { printf '\n== %s\n' "$*"; }
skip() { printf '\n== %s: skipped (%s)\n' "$1" "$2"; }

if [ -f "$G/compose/prometheus/prometheus.yml" ]; then
  step "promtool: prometheus.yml and rules"
  promtool check config --syntax-only "$G/compose/prometheus/prometheus.yml"
  shopt -s nullglob
  rules=("$G"/compose/prometheus/rules/*.yml)
  shopt -u nullglob
  if ((${#rules[@]})); then promtool check rules "${rules[@]}"; fi
else
  skip promtool "no $G/compose/prometheus/prometheus.yml"
fi

if [ -f "$G/compose/alertmanager/alertmanager.yml" ]; then
  step "amtool: alertmanager.yml"
  amtool check-config "$G/compose/alertmanager/alertmanager.yml"
else
  skip amtool "no $G/compose/alertmanager/alertmanager.yml"
fi

if [ -f "$G/compose/docker-compose.yml" ]; then
  step "docker compose config and the compose-spec schema"
  docker-compose -f "$G/compose/docker-compose.yml" config -q
  check-jsonschema --builtin-schema vendor.compose-spec "$G/compose/docker-compose.yml"
else
  skip "docker compose" "no $G/compose/docker-compose.yml"
fi

if [ -f "$G/compose/traefik/traefik.yml" ]; then
  step "Traefik v3 schemas (static and file provider)"
  check-jsonschema --schemafile "$TRAEFIK_SCHEMA" "$G/compose/traefik/traefik.yml"
  shopt -s nullglob
  dynamic=("$G"/compose/traefik/dynamic/*.yml)
  shopt -u nullglob
  if ((${#dynamic[@]})); then check-jsonschema --schemafile "$TRAEFIK_FILE_SCHEMA" "${dynamic[@]}"; fi
else
  skip Traefik "no $G/compose/traefik/traefik.yml"
fi

shopt -s nullglob
cloud_init=("$G"/cloud-init/*.yaml)
shopt -u nullglob
if ((${#cloud_init[@]})); then
  step "cloud-init schema"
  for f in "${cloud_init[@]}"; do cloud-init-schema -c "$f"; done
else
  skip cloud-init "no $G/cloud-init/*.yaml"
fi

if [ -d "$G/terraform" ] && command -v terraform >/dev/null; then
  step "terraform fmt"
  terraform fmt -check -recursive -diff "$G/terraform"
else
  skip "terraform fmt" "no $G/terraform or no terraform"
fi

step "yamllint: generated/ and .github/"
yamllint --strict -c .yamllint.yml "$G" .github
# actionlint runs in its own job (the real binary, which reads .github/actionlint.yaml) and in
# tests/it/workflows.rs.
echo
echo "validate-generated: every check passed"
