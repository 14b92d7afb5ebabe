#!/usr/bin/env python3
"""Writes incidents.csv: alert and incident titles in the forms documented by monitoring tools and
public status pages (see PROVENANCE.md), with instance values (hosts, ids, counts, regions) drawn
from a seeded generator. The group of each line is assigned here, by construction, from the event
it stands for: the engine never saw these lines when they were labelled."""
import csv, random, sys

rng = random.Random(20240611)
rows = []  # (content, group id, group description)

def add(group, desc, lines):
    for line in lines:
        rows.append((line, group, desc))

def host(prefix):
    return f"{prefix}-{rng.randrange(1, 40):02d}"

def ip():
    return f"10.{rng.randrange(0, 255)}.{rng.randrange(0, 255)}.{rng.randrange(1, 255)}"

def pod(app):
    chars = "bcdfghjklmnpqrstvwxz2456789"
    return f"{app}-{''.join(rng.choice(chars) for _ in range(9))}-{''.join(rng.choice(chars) for _ in range(5))}"

def inst():
    return "i-0" + "".join(rng.choice("0123456789abcdef") for _ in range(16))

REGIONS = ["US East (N. Virginia)", "US West (Oregon)", "EU (Ireland)", "Asia Pacific (Tokyo)", "EU (Frankfurt)"]

# --- Prometheus Alertmanager, default subject template:
# [STATUS[:n firing]] <group label values> (<other common label values>)
add("AM-InstanceDown", "Prometheus InstanceDown: a scrape target is down",
    [f"[FIRING:1] InstanceDown ({ip()}:9100 node critical)" for _ in range(6)]
    + [f"[FIRING:{rng.randrange(2, 6)}] InstanceDown (node critical)" for _ in range(2)]
    + [f"[RESOLVED] InstanceDown ({ip()}:9100 node critical)" for _ in range(2)])
add("AM-HighNodeCPU", "Prometheus HighNodeCPU: node CPU above threshold",
    [f"[FIRING:1] HighNodeCPU ({ip()}:9100 node warning)" for _ in range(5)]
    + [f"[RESOLVED] HighNodeCPU ({ip()}:9100 node warning)"])
add("AM-KubePodCrashLooping", "Kubernetes pod crash looping",
    [f"[FIRING:1] KubePodCrashLooping ({ns} {pod(app)} kube-state-metrics warning)"
     for ns, app in [("payments", "api"), ("payments", "api"), ("checkout", "worker"), ("search", "indexer"),
                     ("checkout", "worker"), ("auth", "token-svc"), ("payments", "api")]]
    + ["[FIRING:3] KubePodCrashLooping (payments kube-state-metrics warning)"])
add("AM-NodeFilesystemSpaceFillingUp", "filesystem predicted to fill up",
    [f"[FIRING:1] NodeFilesystemSpaceFillingUp ({dev} ext4 {ip()}:9100 {mp} warning)"
     for dev, mp in [("/dev/sda1", "/"), ("/dev/nvme0n1p1", "/var/lib/docker"), ("/dev/sdb1", "/data"), ("/dev/sda1", "/"), ("/dev/sdb1", "/data")]])
add("AM-TargetDown", "Prometheus TargetDown: share of a job's targets down",
    [f"[FIRING:1] TargetDown ({job} {ns} warning)" for job, ns in
     [("kubelet", "kube-system"), ("node-exporter", "monitoring"), ("api", "payments"), ("kube-state-metrics", "monitoring"), ("api", "payments")]])
add("AM-PrometheusConfigReloadFailed", "Prometheus configuration reload failed",
    [f"[FIRING:1] PrometheusConfigReloadFailed (prometheus-k8s-{i} monitoring critical)" for i in (0, 1, 0)])
add("AM-KubeDeploymentReplicasMismatch", "deployment has not matched its replica count",
    [f"[FIRING:1] KubeDeploymentReplicasMismatch ({d} {ns} warning)" for d, ns in
     [("api", "payments"), ("frontend", "web"), ("worker", "checkout"), ("api", "payments")]])

# --- Grafana alerting (the default title is Alertmanager's template); the test notification.
add("GF-TestAlert", "Grafana contact point test notification",
    ["[FIRING:1] (TestAlert Grafana)"] * 3)
add("GF-HighMemory", "Grafana rule: memory usage high",
    [f"[FIRING:1] HighMemoryUsage ({host(h)} production)" for h in ("web", "web", "db", "cache", "web")]
    + [f"[RESOLVED] HighMemoryUsage ({host('web')} production)"])
add("GF-ErrorBudgetBurn", "Grafana rule: SLO error budget burn",
    [f"[FIRING:1] ErrorBudgetBurn ({svc} {w} critical)" for svc, w in
     [("checkout", "1h"), ("search", "6h"), ("checkout", "6h"), ("login", "1h")]])

# --- Amazon CloudWatch alarm e-mail (SNS) subject: <STATE>: "<alarm name>" in <region name>
add("CW-EC2-HighCPU", "CloudWatch: EC2 instance CPU utilization high",
    [f'ALARM: "awsec2-{inst()}-High-CPU-Utilization" in {rng.choice(REGIONS)}' for _ in range(6)]
    + [f'OK: "awsec2-{inst()}-High-CPU-Utilization" in {rng.choice(REGIONS)}' for _ in range(2)])
add("CW-EC2-StatusCheck", "CloudWatch: EC2 status check failed",
    [f'ALARM: "awsec2-{inst()}-StatusCheckFailed" in {rng.choice(REGIONS)}' for _ in range(4)])
add("CW-ALB-5XX", "CloudWatch: load balancer 5XX responses",
    [f'ALARM: "{lb}-HTTPCode-ELB-5XX-Count" in {rng.choice(REGIONS)}' for lb in ("api-alb", "web-alb", "api-alb", "admin-alb", "api-alb")])
add("CW-Lambda-Errors", "CloudWatch: Lambda function errors",
    [f'ALARM: "{fn}-Errors" in {rng.choice(REGIONS)}' for fn in ("checkout-fn", "resize-image", "checkout-fn", "send-email")])
add("CW-RDS-Storage", "CloudWatch: RDS free storage space low",
    [f'ALARM: "{db}-FreeStorageSpace-Low" in {rng.choice(REGIONS)}' for db in ("rds-orders", "rds-users", "rds-orders", "rds-analytics")])
add("CW-DDB-TargetTracking", "DynamoDB auto scaling target-tracking alarm",
    [f'ALARM: "TargetTracking-table/{t}-AlarmHigh-{u}" in {rng.choice(REGIONS)}' for t, u in
     [("orders", "3f2b6c1e-9d4a-4e7b-8f21-0c5d7a9e1b34"), ("sessions", "a81c0f4d-2b7e-4c93-9e15-6d2f8b0a7c51"),
      ("orders", "3f2b6c1e-9d4a-4e7b-8f21-0c5d7a9e1b34"), ("carts", "5e9d2a70-1c3b-4f86-a4d2-9b7e0c1f6a83")]])
add("CW-SQS-Backlog", "CloudWatch: SQS queue backlog (oldest message age)",
    [f'ALARM: "{q}-ApproximateAgeOfOldestMessage" in {rng.choice(REGIONS)}' for q in ("orders-queue", "emails-queue", "orders-queue")])

# --- Datadog monitors: [Triggered|Recovered|Warn|No Data] (+ " on {scope}" for multi alerts) + monitor name.
for _ in range(6):
    h = host("web")
    add("DD-HighCPU", "Datadog: CPU usage high on a host", [f"[Triggered on {{host:{h}}}] CPU usage is high on {h}"])
for _ in range(2):
    h = host("web")
    add("DD-HighCPU", "Datadog: CPU usage high on a host", [f"[Recovered on {{host:{h}}}] CPU usage is high on {h}"])
add("DD-DiskLow", "Datadog: disk space low",
    [f"[Warn on {{device:{d},host:{host(h)}}}] Disk space is running low" for d, h in
     [("/dev/sda1", "db"), ("/dev/sdb", "db"), ("/dev/sda1", "worker"), ("/dev/nvme1n1", "kafka"), ("/dev/sda1", "db")]])
add("DD-ErrorRate", "Datadog APM: service error rate high",
    [f"[Triggered on {{env:prod,service:{s}}}] Error rate above 5% on {s}" for s in ("checkout", "checkout", "search", "payments", "login")])
add("DD-NoData", "Datadog: agent stopped reporting",
    [f"[No Data on {{host:{host(h)}}}] Datadog agent is not reporting" for h in ("worker", "worker", "web", "batch")])
add("DD-Synthetics-Login", "Datadog Synthetics: login API test failing",
    ["[Triggered] [Synthetics] Login flow API test is failing"] * 2 + ["[Recovered] [Synthetics] Login flow API test is failing"])
add("DD-Latency", "Datadog APM: p99 latency high",
    [f"[Triggered on {{env:prod,resource_name:{r},service:{s}}}] p99 latency above 2s on {s}" for s, r in
     [("search", "get_/api/search"), ("checkout", "post_/api/orders"), ("search", "get_/api/suggest")]])

# --- PagerDuty Events API v2 documented example summaries, and Nagios notifications via PagerDuty.
add("PD-DiskFull", "disk almost full on a data pipeline machine",
    [f"DISK at {p}% on machine prod-datapipe{n:02d}.example.com" for p, n in [(99, 3), (97, 3), (99, 7), (95, 12), (98, 7)]])
add("PD-Example", "PagerDuty example alert",
    [f"Example alert on host{n}.example.com" for n in (1, 2, 1)])
add("NG-HostDown", "Nagios: host down",
    [f"** PROBLEM Host Alert: {host(h)} is DOWN **" for h in ("web", "db", "web", "cache")]
    + [f"** RECOVERY Host Alert: {host('web')} is UP **"])
add("NG-HTTPCritical", "Nagios: HTTP service check critical",
    [f"** PROBLEM Service Alert: {host(h)}/HTTP is CRITICAL **" for h in ("web", "web", "api")]
    + [f"** RECOVERY Service Alert: {host('web')}/HTTP is OK **"])
add("NG-PingLoss", "Nagios: ping packet loss",
    [f"PING CRITICAL - Packet loss = {p}%" for p in (100, 100, 60)] + ["PING WARNING - Packet loss = 20%, RTA = 182.40 ms"])
add("NG-HTTP503", "HTTP check got 503",
    [f"HTTP CRITICAL: HTTP/1.1 503 Service Unavailable - {b} bytes in {t} second response time" for b, t in [(512, "0.012"), (498, "0.009"), (512, "0.031")]])
add("NG-Load", "Nagios: load average high",
    [f"** PROBLEM Service Alert: {host(h)}/Current Load is WARNING **" for h in ("batch", "web", "batch")])

# --- Uptime monitors (UptimeRobot alert subjects).
add("UR-Down-Timeout", "UptimeRobot: monitor down, connection timeout",
    [f"Monitor is DOWN: {n} ( {u} ) - Reason: Connection Timeout" for n, u in
     [("Website", "https://www.example.com/"), ("API", "https://api.example.com/health"), ("Website", "https://www.example.com/")]])
add("UR-Down-502", "UptimeRobot: API health check down with 502 (upstream down)",
    ["Monitor is DOWN: API ( https://api.example.com/health ) - Reason: 502 Bad Gateway"] * 2)
add("UR-Down-503", "UptimeRobot: shop down with 503",
    ["Monitor is DOWN: Shop ( https://shop.example.com/ ) - Reason: 503 Service Unavailable"])
add("UR-Up", "UptimeRobot: monitor back up",
    [f"Monitor is UP: {n} ( {u} ) - It was down for {m} minutes and {s} seconds." for n, u, m, s in
     [("Website", "https://www.example.com/", 4, 12), ("API", "https://api.example.com/health", 17, 3)]])

# --- Public status pages (GitHub, Slack) incident titles, by affected component.
add("GH-Actions", "GitHub status: Actions degraded", ["Incident with Actions"] * 4)
add("GH-Pages", "GitHub status: Pages degraded", ["Incident with Pages"] * 3)
add("GH-Git", "GitHub status: Git operations degraded", ["Incident with Git Operations"] * 3)
add("GH-Copilot", "GitHub status: Copilot degraded", ["Incident with Copilot"] * 3)
add("GH-Codespaces", "GitHub status: Codespaces degraded", ["Incident with Codespaces"] * 2)
add("GH-Some", "GitHub status: unspecified disruption", ["Disruption with some GitHub services"] * 4)
add("GH-Multi", "GitHub status: database load balancer change, several services",
    ["Incident with Pages, Actions, Codespaces, API Requests, Issues and Pull Requests"])
add("SL-Send", "Slack status: messages fail to send",
    ["Some users may be experiencing issues sending messages"] * 2)
add("SL-Load", "Slack status: messages fail to load",
    ["Some users may be experiencing issues loading messages"])
add("SL-Connect", "Slack status: users cannot connect",
    ["Users may be experiencing issues connecting to Slack", "Some users may be having trouble connecting to Slack"])

# --- Error trackers (Sentry issue titles: exception type and message).
add("ST-TypeError-map", "JS bug: undefined list mapped",
    ["TypeError: Cannot read properties of undefined (reading 'map')"] * 4)
add("ST-TypeError-length", "JS bug: undefined value's length read",
    ["TypeError: Cannot read properties of undefined (reading 'length')"] * 2)
add("ST-PG-Refused", "database refused connections",
    [f'OperationalError: could not connect to server: Connection refused Is the server running on host "{h}" ({a}) and accepting TCP/IP connections on port 5432?'
     for h, a in [("db-primary", "10.0.4.10"), ("db-primary", "10.0.4.10"), ("db-replica-2", "10.0.4.12")]])
add("ST-ReadTimeout", "upstream payments API read timeouts",
    [f"ReadTimeout: HTTPSConnectionPool(host='api.payments.example', port=443): Read timed out. (read timeout={t})" for t in (30, 30, 10, 30)])
add("ST-Redis-Refused", "Redis cache refused connections (server down)",
    ["ConnectionError: Error 111 connecting to redis-cache:6379. Connection refused."] * 2)
add("ST-Redis-Timeout", "Redis sessions connection timed out (network)",
    ["ConnectionError: Error 110 connecting to redis-sessions:6379. Connection timed out."])

# --- Kubernetes events surfaced as alerts.
add("K8S-BackOff", "container crash-looping (back-off restarting)",
    [f"Back-off restarting failed container {c} in pod {pod(c)}_{ns}" for c, ns in
     [("api", "payments"), ("worker", "checkout"), ("api", "payments"), ("indexer", "search")]])
add("K8S-OOMKilled", "container killed out of memory",
    [f"Container {c} in pod {pod(c)} was OOMKilled (exit code 137)" for c in ("worker", "indexer", "worker")])
add("K8S-FailedScheduling-cpu", "pod unschedulable: insufficient CPU",
    [f"0/{n} nodes are available: {k} Insufficient cpu." for n, k in [(6, 6), (6, 4), (12, 12)]])
add("K8S-FailedScheduling-memory", "pod unschedulable: insufficient memory",
    [f"0/{n} nodes are available: {k} Insufficient memory." for n, k in [(12, 9), (6, 5)]])

# Alerts arrive interleaved, not grouped: a seeded shuffle gives the arrival order.
rng.shuffle(rows)
w = csv.writer(sys.stdout, lineterminator="\n")
w.writerow(["LineId", "Content", "EventId", "EventTemplate"])
groups = {}
for i, (content, group, desc) in enumerate(rows, 1):
    groups.setdefault(group, desc)
    w.writerow([i, content, group, desc])
print(f"{len(rows)} lines, {len(groups)} groups", file=sys.stderr)
