#!/usr/bin/env bash
# ql-algo-trading deploy entry point.
#
#   ./deploy.sh -e local [options]              the whole platform on this machine (below)
#   ./deploy.sh -e local --token USERNAME       an ID token of the running local platform
#   ./deploy.sh -e local --enable-mfa USERNAME  TOTP MFA for LIVE actions (while it runs)
#   ./deploy.sh -e dev|staging|production [--synth-only] [--diff]
#
# local: creates .venv and installs what is missing, then runs the platform on this machine
# (moto on 127.0.0.1, the REST API, the scheduler and the demo). Running it again on the same
# --state-dir resumes: the state is restored and the demo carries on with its own accounts,
# basket and strategy. One instance per --state-dir (a second one says which pid/port runs).
# AWS environments: checks the prerequisites, builds the Lambda dependency layers (core,
# science, archive) without Docker (manylinux wheels for the Lambda Python version),
# synthesizes, and deploys auth-broker, options-platform and execution-engine in that order.
#
# options of -e local (all of them):
#   --port N              REST API port (default 8080; 0 = any free port)
#   --at ISO-INSTANT      start the platform clock there (default: Mon 17 Aug 2026 09:29:30 IST, or the
#                         next trading morning when resuming a saved state; 'now' = the real clock)
#   --brokers paper|fake  paper brokers (default) or the protocol fakes driven by the real SDKs
#   --no-demo             do not run the demo
#   --exit-after MINUTES  demo: minutes between entry and exit (default 3)
#   --quit-after-demo     stop (and save) once the demo's exit has run
#   --lookahead MINUTES   emitter lookahead (default: config)
#   --seed N              market simulator seed (default 17)
#   --state-dir DIR       where state.json, runtime.json and the instance lock live (default .local-state)
#   --token USERNAME      print an ID token for USERNAME of the running platform
# options of dev|staging|production:
#   --synth-only          build the layers and synthesize, do not deploy
#   --layers-only         build the layers and the code asset (with bytecode), check the budget, stop
#                         (needs Python 3.12: PYTHON312=/path/to/python3.12 when it is not on PATH)
#   --diff                cdk diff instead of deploy
set -euo pipefail
cd "$(dirname "$0")"

ENV_NAME=""
ARGS=()
SYNTH_ONLY=0
LAYERS_ONLY=0
DIFF=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    -e|--env) ENV_NAME="${2:-}"; shift 2 ;;
    --synth-only) SYNTH_ONLY=1; shift ;;
    --layers-only) LAYERS_ONLY=1; shift ;;
    --diff) DIFF=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
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
  local newer
  newer=$(find requirements.txt requirements-dev.txt requirements -name '*.txt' -newer "$stamp" 2>/dev/null | head -1 || true)
  if [[ ! -f $stamp || -n $newer ]]; then
    say "installing the pinned Python dependencies (requirements-dev.txt); the first time takes a few minutes"
    .venv/bin/pip install --progress-bar on -r requirements-dev.txt
    touch "$stamp"
  fi
}

if [[ "$ENV_NAME" == "local" ]]; then
  ensure_venv
  # the traders' web app (web/), served by the local API server under /app/
  if [[ " ${ARGS[*]-} " != *" --token "* ]]; then
    bash web/build.sh || say "the web app could not be built; the API runs without it (see above)"
  fi
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
  exec .venv/bin/python -m local.platform ${ARGS[@]+"${ARGS[@]}"}
fi

case "$ENV_NAME" in dev|staging|production) ;; *) echo "unknown environment '$ENV_NAME' (local, dev, staging, production)" >&2; exit 2 ;; esac

# Python 3.12 (the Lambda runtime's) compiles the shipped bytecode: a .pyc is only used by the
# interpreter version that wrote it.
PYTHON312="${PYTHON312:-$(command -v python3.12 2>/dev/null || true)}"
missing=()
if [[ $LAYERS_ONLY -eq 0 ]]; then
  command -v node >/dev/null || missing+=("node (Node.js 20+, for the AWS CDK CLI)")
  command -v npm >/dev/null || missing+=("npm")
fi
[[ -n "$PYTHON312" ]] && "$PYTHON312" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null \
  || missing+=("python3.12 (the Lambda runtime's version, to compile the shipped bytecode; set PYTHON312=/path/to/python3.12)")
[[ ${#missing[@]} -eq 0 ]] || { printf 'missing prerequisite: %s\n' "${missing[@]}" >&2; exit 1; }
# --layers-only (the benchmarks' build) needs only pip in an existing .venv
[[ $LAYERS_ONLY -eq 1 && -x .venv/bin/python ]] || ensure_venv
if [[ $LAYERS_ONLY -eq 0 ]]; then
  if [[ ! -x node_modules/.bin/cdk ]]; then
    say "installing the pinned AWS CDK CLI (package.json)"
    npm install --no-audit --no-fund --loglevel=error
  fi
  CDK=node_modules/.bin/cdk
  say "CDK CLI $($CDK --version)"
fi

# ---- Lambda layers ---------------------------------------------------------------------------
# One layer per purpose (requirements/layer-<name>.txt), each built without Docker from
# manylinux wheels for the Lambda runtime (Python 3.12, x86_64) into build/layers/<name>/python.
# Which function gets which layer is the mapping in cdk_stacks/constructs/layers.py; the budget
# check below fails the deploy when a function's code + layers exceed Lambda's 250 MB unzipped.
# boto3/botocore are never in a layer (the runtime provides them): removed if a dependency pulls them.
LAYERS=(core science archive)
prune_layer() {  # what no function imports: test suites, and pyarrow's Flight/S3/HDFS/ORC and C++ headers
  local target=$1
  rm -rf "$target"/boto3 "$target"/botocore "$target"/s3transfer "$target"/boto3-* "$target"/botocore-* "$target"/s3transfer-*
  find "$target" -depth -type d -name tests -exec rm -rf {} +
  rm -rf "$target"/test  # smartapi-python ships its own test scripts as a top-level package
  if [[ -d $target/pyarrow ]]; then
    (cd "$target/pyarrow" && rm -rf include src tests libarrow_flight.so* _flight.* flight.py libarrow_s3.so* _s3fs.* \
      _hdfs.* _orc.* orc.py libarrow_python.so libarrow_python.so.*.*.* ./*.pyx ./*.pxd ./*.pxi ./*.h ./*.cc)
  fi
}
say "building the Lambda layers ${LAYERS[*]} (manylinux wheels for Python 3.12 on Amazon Linux 2023, no Docker)"
rm -rf build/layer build/layers build/code
for layer in "${LAYERS[@]}"; do
  target="build/layers/$layer/python"
  mkdir -p "$target"
  .venv/bin/pip install --quiet --disable-pip-version-check --no-compile --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
    --python-version 3.12 --implementation cp --only-binary=:all: --target "$target" -r "requirements/layer-$layer.txt"
  prune_layer "$target"
  # Bytecode shipped: /opt is read-only in Lambda, so without it every cold start compiles every
  # module it imports (issue 14: 1.35 s vs 0.5 s for PlaceOrders' imports). unchecked-hash pycs:
  # the asset zip resets every mtime to 1980, which would invalidate timestamp-based pycs; the
  # layer is rebuilt from scratch on every deploy, so the source never changes under its pyc.
  "$PYTHON312" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$target" >/dev/null \
    || say "layer $layer: some files did not compile (py2-only scripts in a package; they are never imported)"
  du -sm "build/layers/$layer" | awk -v n="$layer" '{printf ">> layer %-8s %4d MB unzipped (with bytecode)\n", n, $1}'
done
say "staging the function code with its bytecode (build/code)"
.venv/bin/python -m cdk_stacks.constructs.layers --stage-code --python "$PYTHON312"
say "per-function size (code + layers, unzipped; Lambda's limit is 250 MB)"
.venv/bin/python -m cdk_stacks.constructs.layers --check
if [[ $LAYERS_ONLY -eq 1 ]]; then say "layers only: done"; exit 0; fi

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
