#!/usr/bin/env bash
# `make demo`: what kubetrail does today, on bundled sample data.
set -u
KT=${1:-kubetrail}
here=$(cd "$(dirname "$0")" && pwd)
policy=$(realpath "$here/../src/kubetrail/data/policies/baseline.yaml")
if [ -t 1 ]; then b=$'\033[1m'; n=$'\033[0m'; else b=; n=; fi
say() { printf '\n%s== %s%s\n$ %s\n' "$b" "$1" "$n" "$2"; }

say "1. Validate a policy exactly as kube-apiserver 1.36 would load it" \
    "kubetrail policy validate baseline.yaml"
"$KT" policy validate "$policy" || exit 1

say "2. A policy with mistakes from real clusters: every problem at once, with file:line" \
    "kubetrail policy validate examples/mistakes.yaml"
"$KT" policy validate "$here/mistakes.yaml" 2>&1
echo "(exit status $? — kube-apiserver would refuse to start with this file)"

say "3. Why is 'kubectl get secrets' logged the way it is? (it is a list, not a get)" \
    "kubetrail policy explain baseline.yaml --request 'GET /api/v1/namespaces/default/secrets' --user alice --group dev"
"$KT" policy explain "$policy" --request 'GET /api/v1/namespaces/default/secrets' --user alice --group dev || exit 1

say "4. kubectl exec over WebSocket (kubectl >= 1.30) is a GET" \
    "kubetrail policy explain baseline.yaml -r 'GET /api/v1/namespaces/prod/pods/web-0/exec?command=sh' -u mallory"
"$KT" policy explain "$policy" -r 'GET /api/v1/namespaces/prod/pods/web-0/exec?command=sh' -u mallory || exit 1

say "5. Decide a batch: attributes, HTTP requests and audit events in, one JSON line out each" \
    "kubetrail policy eval baseline.yaml examples/requests.jsonl"
"$KT" policy eval "$policy" "$here/requests.jsonl" || exit 1

say "6. Which attacks does the policy log, for which callers? (worst first)" \
    "kubetrail policy coverage baseline.yaml"
"$KT" policy coverage "$policy" | head -12 || exit 1
echo "..."

say "7. The same question for a managed platform's fixed policy" \
    "kubetrail policy coverage --profile eks"
"$KT" policy coverage --profile eks | head -10
echo "..."

say "8. Mistakes real policies make, with stable codes (kubetrail policy lint --explain KT002)" \
    "kubetrail policy lint examples/mistakes.yaml"
"$KT" policy lint "$here/mistakes.yaml"
echo "(exit status $? — findings at warning or above fail the command, for CI)"

sample=$(mktemp -d)/sample.log.gz
say "9. No capture yet? Generate 15 minutes of realistic traffic (3 nodes, everything logged)" \
    "kubetrail sample generate --nodes 3 --minutes 15 -o sample.log.gz"
"$KT" sample generate --nodes 3 --minutes 15 -o "$sample" || exit 1

say "10. What would each policy write, per day, and how long does rotation keep it?" \
    "kubetrail policy volume baseline.yaml docs-example.yaml --sample sample.log.gz"
"$KT" policy volume "$policy" "$here/docs-example-policy.yaml" --sample "$sample" || exit 1

say "11. Cut volume without losing any detection (proved against the technique catalogue)" \
    "kubetrail policy tune docs-example.yaml --sample sample.log.gz"
"$KT" policy tune "$here/docs-example-policy.yaml" --sample "$sample" -o "${sample%.log.gz}-tuned.yaml" || exit 1
echo "(proposal written to ${sample%.log.gz}-tuned.yaml)"

say "12. What changes between two policies, for attacks and for bytes" \
    "kubetrail policy diff docs-example.yaml baseline.yaml --sample sample.log.gz"
"$KT" policy diff "$here/docs-example-policy.yaml" "$policy" --sample "$sample" | head -24

node=$(mktemp -d)
mkdir -p "$node/manifests" && cp "$here/kube-apiserver.yaml" "$node/manifests/"
say "13. Deploy: check a stock kubeadm control plane (CIS 1.2.16-1.2.19, mounts, policy)" \
    "kubetrail deploy check --manifest /etc/kubernetes/manifests/kube-apiserver.yaml"
"$KT" deploy check --manifest "$node/manifests/kube-apiserver.yaml" --no-lint
echo "(exit status $? — a failed check fails the command)"

say "14. Install the policy: flags, mounts, the policy-hash annotation; backup outside manifests/" \
    "kubetrail deploy kubeadm --policy baseline.yaml   (here into a scratch copy of the node)"
"$KT" deploy kubeadm --manifest "$node/manifests/kube-apiserver.yaml" --policy "$policy" \
    --policy-path "$node/audit/policy.yaml" --log-path "$node/log/audit.log" \
    --backup-dir "$node/kubetrail-backups" 2>/dev/null | head -30 || exit 1
echo "..."
"$KT" deploy check --manifest "$node/manifests/kube-apiserver.yaml" || exit 1

lake=$(mktemp -d)/lake
say "15. Collect: the generated capture into a lake (Parquet, zstd; secrets redacted at decode)" \
    "kubetrail ingest sample.log.gz --lake ./lake --cluster demo"
"$KT" ingest "$sample" --lake "$lake" --cluster demo || exit 1

say "16. Ask the lake: who deleted what? (read-only SQL, DuckDB, UTC)" \
    "kubetrail sql --lake ./lake \"SELECT user_name, object_resource, count(*) ... WHERE verb = 'delete'\""
"$KT" sql --lake "$lake" "SELECT user_name, object_resource, count(*) AS n FROM events WHERE verb = 'delete' GROUP BY ALL ORDER BY n DESC LIMIT 5" || exit 1

say "17. Secrets never reach disk: what the lake holds for Secret bodies" \
    "kubetrail sql --lake ./lake \"SELECT ... FROM events WHERE object_resource = 'secrets' ...\""
"$KT" sql --lake "$lake" "SELECT verb, object_name, left(CAST(json_extract(response_object, '\$.data') AS VARCHAR), 64) AS data FROM events WHERE object_resource = 'secrets' AND json_extract(response_object, '\$.data') IS NOT NULL LIMIT 2" || exit 1

say "18. Is the pipeline healthy? (silent streams, gaps, duplicates, audit-ID collisions)" \
    "kubetrail lake health --lake ./lake"
"$KT" lake health --lake "$lake"
echo "(exit status $? — the demo's capture is from 2026-01-01, so its stream counts as silent)"

say "19. Who ran commands inside pods? (one sentence per request, newest first)" \
    "kubetrail search --lake ./lake --resource pods/exec --limit 4"
"$KT" search --lake "$lake" --resource pods/exec --limit 4 || exit 1

say "20. Everything one identity did, minute by minute (the generated CI account turns hostile)" \
    "kubetrail timeline --lake ./lake --user system:serviceaccount:ci:build-runner"
"$KT" timeline --lake "$lake" --user system:serviceaccount:ci:build-runner | head -16 || exit 1

say "21. Who is busiest? (requests and the bytes they cost in the log)" \
    "kubetrail top --lake ./lake --by user --limit 6"
"$KT" top --lake "$lake" --by user --limit 6 || exit 1

say "22. Detect attacks: Sigma rules over the lake (the generated CI account's attack stands out)" \
    "kubetrail detect --lake ./lake --min-level high"
"$KT" detect --lake "$lake" --min-level high | head -8 || exit 1

say "23. The same rules for your SIEM (pySigma backends)" \
    "kubetrail detections export --target splunk"
"$KT" detections export --target splunk 2>/dev/null | grep -A1 "^# pod-exec" || exit 1

say "24. The same lake on Apache Spark, for lakes that outgrow one machine: the same answer" \
    "kubetrail top --lake ./lake --by user -o json --engine spark   (compared with DuckDB's)"
duck=$("$KT" top --lake "$lake" --by user --limit 6 -o json) || exit 1
spark=$("$KT" top --lake "$lake" --by user --limit 6 -o json --engine spark 2>/dev/null) || exit 1
if [ "$duck" = "$spark" ]; then
    echo "identical JSON from DuckDB and Spark (local[*]): ${spark:0:110}…"
else
    echo "the engines' answers differ" >&2
    exit 1
fi

report=$(dirname "$sample")/report.html
say "25. One HTML file to attach to the change: coverage matrix, lint, volume, detections" \
    "kubetrail report baseline.yaml docs-example.yaml --sample sample.log.gz -o report.html"
"$KT" report "$policy" "$here/docs-example-policy.yaml" --sample "$sample" -o "$report" || exit 1
echo "open $report in a browser (it makes no network request: works offline and from email)"
