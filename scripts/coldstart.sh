#!/usr/bin/env bash
# Cold start of every function against a hello-world lambda_runtime binary (tools/coldstart-hello),
# built the same way in the same run: init = from spawning the process to its first
# `GET /2018-06-01/runtime/invocation/next` on a local Runtime API emulator (scripts/coldstart.py),
# which then serves one sample event and records the response.
#
#   scripts/coldstart.sh [--runs N] [--no-build] [--no-moto] [--causeloop PATH] [--out DIR]
#                        [--also DIR=LABEL] [--lambda-dir DIR] [--wrap COMMAND]
#
# - Builds with `cargo lambda build --release --x86-64` (the machine runs x86_64 only; arm64 is
#   what deploys) and the arm64 target's rustflags from .cargo/config.toml, into
#   ${CARGO_TARGET_DIR:-target}/lambda-x86_64, so the arm64 zips stay put.
# - Each function gets the environment template.yaml gives it (Globals and its own variables),
#   fake credentials, AWS_REGION, and AWS_ENDPOINT_URL pointing at a moto server holding the
#   table and queues (--no-moto: an endpoint that refuses connections; init is the same, the
#   invocations then answer 500). moto comes from the test virtualenv (CAUSELOOP_VENV, or
#   scripts/test-deps.sh).
# - --causeloop PATH: a `causeloop` binary used to create a key in that table
#   (`causeloop keys create --table`), which then replaces the samples' key placeholder, so the
#   invocations are authenticated; without it they answer 401.
# - --also DIR=LABEL: also runs the binaries of another build (DIR/<function>/bootstrap, e.g. one
#   built from an earlier commit), as <function>+LABEL, in the same interleaved runs (those of
#   its functions that DIR has).
# - --lambda-dir DIR: runs the binaries already built in DIR (<function>/bootstrap) instead of
#   building; without DIR/hello the first function is the baseline. --wrap COMMAND starts each
#   one under COMMAND: scripts/lambda-smoke.sh runs the arm64 zips under qemu-aarch64 this way.
# Prints the table; every sample goes to OUT/results.json (default bench-out/coldstart).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=20
build=1
use_moto=1
causeloop=""
out=bench-out/coldstart
also_dir=""
also_label=""
wrap=""
lambda_dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift ;;
    --no-build) build=0 ;;
    --no-moto) use_moto=0 ;;
    --causeloop) causeloop=$(realpath "$2"); shift ;;
    --out) out="$2"; shift ;;
    --also) also_dir="${2%%=*}"; also_label="${2#*=}"; shift ;;
    --lambda-dir) lambda_dir="$2"; build=0; shift ;;
    --wrap) wrap="$2"; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

target="${CARGO_TARGET_DIR:-target}"
lambda_dir="${lambda_dir:-$target/lambda-x86_64}"

# The template's functions that have a crate in the workspace (as scripts/lambda-build.sh builds).
workspace_bins=$(cargo metadata --no-deps --format-version 1 --locked | python3 -c '
import json, sys
for package in json.load(sys.stdin)["packages"]:
    for target in package["targets"]:
        if "bin" in target["kind"]:
            print(target["name"])
')
functions=()
for bin in $(python3 scripts/template_functions.py --binaries); do
  if grep -qx "$bin" <<<"$workspace_bins"; then
    functions+=("$bin")
  else
    echo "warning: template.yaml names Binary '$bin' but no workspace crate builds it; skipped" >&2
  fi
done

if [ "$build" -eq 1 ]; then
  export PATH="$(scripts/lambda-deps.sh):$PATH"
  # Built as the arm64 deploy is: the same rustflags (.cargo/config.toml), on the host's triple.
  CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS=$(python3 -c '
import tomllib
config = tomllib.load(open(".cargo/config.toml", "rb"))
print(" ".join(config["target"]["aarch64-unknown-linux-gnu"]["rustflags"]))')
  export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS
  packages=(-p hello)
  for bin in "${functions[@]}"; do packages+=(-p "$bin"); done
  cargo lambda build --release --x86-64 --locked --lambda-dir "$lambda_dir" "${packages[@]}"
fi

run_dir=$(mktemp -d)
cleanup() {
  if [ -f "$run_dir/moto.pid" ]; then kill "$(cat "$run_dir/moto.pid")" 2>/dev/null || true; fi
  rm -rf "$run_dir"
}
trap cleanup EXIT

table=causeloop-coldstart
if [ "$use_moto" -eq 1 ]; then
  venv="${CAUSELOOP_VENV:-$(scripts/test-deps.sh)}"
  endpoint=$(scripts/moto.sh "$venv" "$run_dir/moto.pid")
  # The table and queues as template.yaml declares them.
  "$venv/bin/python" - "$endpoint" "$table" >"$run_dir/values.env" <<'EOF'
import sys
import boto3
endpoint, table = sys.argv[1], sys.argv[2]
args = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
dynamodb = boto3.client("dynamodb", **args)
dynamodb.create_table(
    TableName=table,
    BillingMode="PAY_PER_REQUEST",
    AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gsi1pk", "gsi1sk")],
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    GlobalSecondaryIndexes=[{
        "IndexName": "gsi1",
        "KeySchema": [{"AttributeName": "gsi1pk", "KeyType": "HASH"}, {"AttributeName": "gsi1sk", "KeyType": "RANGE"}],
        "Projection": {"ProjectionType": "ALL"},
    }],
)
sqs = boto3.client("sqs", **args)
urls = {}
for name, fifo in (("cluster", True), ("delivery", False), ("sync", False)):
    suffix = ".fifo" if fifo else ""
    attributes = {"FifoQueue": "true"} if fifo else {}
    urls[name + "_dlq"] = sqs.create_queue(QueueName="coldstart-%s-dlq%s" % (name, suffix), Attributes=attributes)["QueueUrl"]
    urls[name] = sqs.create_queue(QueueName="coldstart-%s%s" % (name, suffix), Attributes=attributes)["QueueUrl"]
print("TABLE_NAME=" + table)
print("CLUSTER_QUEUE_URL=" + urls["cluster"])
print("CLUSTER_DLQ_URL=" + urls["cluster_dlq"])
print("DELIVERY_QUEUE_URL=" + urls["delivery"])
print("DELIVERY_DLQ_URL=" + urls["delivery_dlq"])
print("SYNC_QUEUE_URL=" + urls["sync"])
print("SYNC_DLQ_URL=" + urls["sync_dlq"])
# The master keyring as the template makes it: a Secrets Manager secret holding a generated
# 64-character passphrase, which the functions that seal or open secrets read on first use.
secrets = boto3.client("secretsmanager", **args)
passphrase = secrets.get_random_password(PasswordLength=64, ExcludePunctuation=True)["RandomPassword"]
keyring = secrets.create_secret(Name="coldstart-keyring", SecretString=passphrase)
print("CAUSELOOP_KEYRING_SECRET=" + keyring["ARN"])
EOF
else
  endpoint=http://127.0.0.1:9
  {
    echo "TABLE_NAME=$table"
    echo "CLUSTER_QUEUE_URL=$endpoint/123456789012/coldstart-cluster.fifo"
    echo "CLUSTER_DLQ_URL=$endpoint/123456789012/coldstart-cluster-dlq.fifo"
    echo "DELIVERY_QUEUE_URL=$endpoint/123456789012/coldstart-delivery"
    echo "DELIVERY_DLQ_URL=$endpoint/123456789012/coldstart-delivery-dlq"
    echo "SYNC_QUEUE_URL=$endpoint/123456789012/coldstart-sync"
    echo "SYNC_DLQ_URL=$endpoint/123456789012/coldstart-sync-dlq"
    echo "CAUSELOOP_KEYRING_SECRET=arn:aws:secretsmanager:us-east-1:123456789012:secret:coldstart-keyring"
  } >"$run_dir/values.env"
fi
{
  echo "ALLOW_PRIVATE_TARGETS=false"
  # The managed connectors' OAuth clients and public URL: left empty, as the template's
  # parameters default to (OAuth then answers 422 oauth_not_configured).
  for kind in GITHUB JIRA PAGERDUTY SERVICENOW; do
    echo "CAUSELOOP_OAUTH_${kind}_CLIENT_ID="
    echo "CAUSELOOP_OAUTH_${kind}_CLIENT_SECRET="
  done
  echo "CAUSELOOP_PUBLIC_URL="
  echo "CAUSELOOP_KEYRING_GENERATION=1"
} >>"$run_dir/values.env"

# The sample each function is invoked with (its first file in events/<function>/ otherwise).
sample_for() {
  case "$1" in
    ingest) echo events/ingest/post-event.json ;;
    issues) echo events/issues/list-issues.json ;;
    alerts) echo events/alerts/apigw-custom.json ;;
    connectors) echo events/connectors/get-catalog.json ;;
    webhooks) echo events/webhooks/post-outbound-webhook.json ;;
    cluster) echo events/cluster/sqs-batch.json ;;
    sync) echo events/sync/sqs-batch.json ;;
    *) find "events/$1" -maxdepth 1 -name '*.json' 2>/dev/null | sort | head -n 1 ;;
  esac
}

# With a key, fill in the placeholders the samples carry (key, workspace, custom's signature).
key_json=""
if [ -n "$causeloop" ] && [ "$use_moto" -eq 1 ]; then
  key_json=$(AWS_ENDPOINT_URL="$endpoint" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
    "$causeloop" keys create --workspace coldstart --table "$table")
fi
prepare_event() {
  python3 - "$1" "$2" "$key_json" <<'EOF'
import hashlib, hmac, json, sys
source, target, key_json = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(source).read()
if key_json:
    key = json.loads(key_json)
    text = text.replace("clk_REPLACE_WITH_A_KEY_FROM_causeloop_keys_create_xxxxx", key["key"])
    text = text.replace("ws_REPLACE_WITH_A_WORKSPACE_ID", key["workspace_id"])
    event = json.loads(text)
    if isinstance(event, dict) and isinstance(event.get("body"), str):
        signature = hmac.new(key["webhook_secret"].encode(), event["body"].encode(), hashlib.sha256).hexdigest()
        text = text.replace("REPLACE_WITH_THE_HEX_HMAC_SHA256_OF_THE_BODY", signature)
open(target, "w").write(text)
EOF
}

specs=()
if [ -x "$lambda_dir/hello/bootstrap" ]; then
  echo '{}' >"$run_dir/hello.json"
  specs+=(--function "hello=$lambda_dir/hello/bootstrap=$run_dir/hello.json")
  if [ -n "$also_dir" ]; then
    specs+=(--function "hello+$also_label=$also_dir/hello/bootstrap=$run_dir/hello.json")
  fi
fi
for bin in "${functions[@]}"; do
  sample=$(sample_for "$bin")
  [ -n "$sample" ] || { echo "no sample event for $bin in events/$bin/" >&2; exit 1; }
  prepare_event "$sample" "$run_dir/$bin.json"
  specs+=(--function "$bin=$lambda_dir/$bin/bootstrap=$run_dir/$bin.json")
  if [ -n "$also_dir" ] && [ -x "$also_dir/$bin/bootstrap" ]; then
    specs+=(--function "$bin+$also_label=$also_dir/$bin/bootstrap=$run_dir/$bin.json")
  fi
done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 scripts/coldstart.py --runs "$runs" --out "$out" --template template.yaml --values "$run_dir/values.env" \
  --endpoint "$endpoint" --wrap "$wrap" "${specs[@]}"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); samples in $out/results.json"
