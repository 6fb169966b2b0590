#!/usr/bin/env bash
# ql-algo-trading deploy entry point.
#
#   ./deploy.sh -e local [--port N] [--at ISO-INSTANT] [--no-demo] [--brokers paper|fake]
#   ./deploy.sh -e local --token USERNAME        (while the local platform runs)
#   ./deploy.sh -e dev|staging|production [--synth-only] [--diff]
#
# local: creates .venv and installs what is missing, then runs the platform on this machine
# (moto on 127.0.0.1, the REST API, the scheduler and the demo). AWS environments: checks the
# prerequisites, builds the Lambda dependency layer without Docker (manylinux wheels for the
# Lambda Python version), synthesizes, and deploys auth-broker, options-platform and
# execution-engine in that order.
set -euo pipefail
cd "$(dirname "$0")"

ENV_NAME=""
ARGS=()
SYNTH_ONLY=0
DIFF=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    -e|--env) ENV_NAME="${2:-}"; shift 2 ;;
    --synth-only) SYNTH_ONLY=1; shift ;;
    --diff) DIFF=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
[[ -n "$ENV_NAME" ]] || { echo "usage: ./deploy.sh -e local|dev|staging|production [options] (see --help)" >&2; exit 2; }

PYTHON="${PYTHON:-python3}"
say() { printf '>> %s\n' "$*"; }

ensure_venv() {
  if [[ ! -x .venv/bin/python ]]; then
    say "creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
    .venv/bin/pip install --quiet --upgrade pip
  fi
  local stamp=.venv/.deps
  if [[ ! -f $stamp || requirements.txt -nt $stamp || requirements-dev.txt -nt $stamp ]]; then
    say "installing the pinned Python dependencies (requirements-dev.txt); the first time takes a few minutes"
    .venv/bin/pip install --progress-bar on -r requirements-dev.txt
    touch "$stamp"
  fi
}

if [[ "$ENV_NAME" == "local" ]]; then
  ensure_venv
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
  exec .venv/bin/python -m local.platform ${ARGS[@]+"${ARGS[@]}"}
fi

case "$ENV_NAME" in dev|staging|production) ;; *) echo "unknown environment '$ENV_NAME' (local, dev, staging, production)" >&2; exit 2 ;; esac

missing=()
command -v node >/dev/null || missing+=("node (Node.js 20+, for the AWS CDK CLI)")
command -v npm >/dev/null || missing+=("npm")
[[ ${#missing[@]} -eq 0 ]] || { printf 'missing prerequisite: %s\n' "${missing[@]}" >&2; exit 1; }
ensure_venv
if [[ ! -x node_modules/.bin/cdk ]]; then
  say "installing the pinned AWS CDK CLI (package.json)"
  npm install --no-audit --no-fund --loglevel=error
fi
CDK=node_modules/.bin/cdk
say "CDK CLI $($CDK --version)"

say "building the Lambda dependency layer (manylinux wheels for Python 3.12 on Amazon Linux 2023, no Docker)"
rm -rf build/layer && mkdir -p build/layer/python
.venv/bin/pip install --quiet --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --python-version 3.12 --implementation cp \
  --only-binary=:all: --target build/layer/python -r requirements.txt
du -sh build/layer | awk '{print ">> layer size " $1}'

say "synthesizing the three stacks for $ENV_NAME"
$CDK synth -c env="$ENV_NAME" --quiet
ls cdk.out/*.template.json | sed 's/^/>>   /'
if [[ $SYNTH_ONLY -eq 1 ]]; then say "synth only: done"; exit 0; fi

if ! .venv/bin/python - <<'PY' >/dev/null 2>&1
import boto3, sys
sys.exit(0 if boto3.client("sts").get_caller_identity().get("Account") else 1)
PY
then
  echo "no usable AWS credentials (aws sts get-caller-identity failed): the templates are in cdk.out/; configure credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID) and run again" >&2
  exit 3
fi
ACCOUNT=$(.venv/bin/python -c 'import boto3; print(boto3.client("sts").get_caller_identity()["Account"])')
if ! .venv/bin/python - "$ACCOUNT" <<'PY' >/dev/null 2>&1
import boto3, sys
boto3.client("cloudformation", region_name="ap-south-1").describe_stacks(StackName="CDKToolkit")
PY
then
  echo "the account $ACCOUNT is not bootstrapped for CDK in ap-south-1: run  $CDK bootstrap aws://$ACCOUNT/ap-south-1" >&2
  exit 4
fi
STACKS=(auth-broker options-platform execution-engine)
for stack in "${STACKS[@]}"; do
  name="ql-algo-trading-$ENV_NAME-$stack-stack"
  if [[ $DIFF -eq 1 ]]; then
    say "diff $name"; $CDK diff -c env="$ENV_NAME" "$name" || true
  else
    say "deploying $name"; $CDK deploy -c env="$ENV_NAME" --require-approval never --progress events "$name"
  fi
done
say "done: register the Elastic IP output of the auth-broker stack with each broker (static IP rule)"
