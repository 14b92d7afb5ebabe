#!/usr/bin/env python3
"""Cold-start measurement against a local Lambda Runtime API emulator (stdlib only).

For each run of each binary: start the binary with the environment Lambda would give it (the
template's variables for that function, fake credentials, AWS_LAMBDA_RUNTIME_API pointing here),
record the time from just before the process is spawned to its first
`GET /2018-06-01/runtime/invocation/next` (its init), answer that request with one sample event,
record the time and body of the `POST .../invocation/{id}/response` (or `/error`), then kill the
process while it waits on its second `next`. Runs are interleaved (run 1 of every binary, then run
2, ...) so that changes in machine load fall on every binary alike.

    coldstart.py --runs 20 --out DIR --template template.yaml --values VALUES_FILE \
        [--endpoint URL] --function NAME=BINARY_PATH=EVENT_JSON ...

Each function gets the environment variables template.yaml gives the function whose Binary is
NAME (Globals and its own), with their values from VALUES_FILE (KEY=VALUE lines), and its
MemorySize as AWS_LAMBDA_FUNCTION_MEMORY_SIZE. A NAME the template does not deploy (the baseline)
gets the Globals' variables. NAME+LABEL (e.g. ingest+before) runs another build of NAME with
NAME's environment. The first --function is the baseline the others are compared with.

Writes DIR/results.json (every sample), DIR/<name>.response.json (the first response of each
binary) and DIR/<name>.log (the processes' stderr), and prints a table.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import template_functions  # noqa: E402

NEXT = "/2018-06-01/runtime/invocation/next"
PREFIX = "/2018-06-01/runtime/invocation/"
INIT_ERROR = "/2018-06-01/runtime/init/error"


class Run:
    """What the emulator knows about the run in progress."""

    def __init__(self, event: bytes, function_arn: str):
        self.event = event
        self.function_arn = function_arn
        self.request_id = str(uuid.uuid4())
        self.first_next_ns = None
        self.pid = None
        self.init_cpu_ns = None
        self.init_faults = None
        self.response_ns = None
        self.response_kind = None
        self.response_body = None
        self.next_count = 0
        self.done = threading.Event()
        self.release = threading.Event()


class Emulator:
    """One Runtime API endpoint per run: a request still buffered from the previous run's process
    (its second `next`, sent just before it was killed) can never be taken for this run's."""

    def __init__(self, run):
        self.run = run
        self.lock = threading.Lock()
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def do_GET(self):
                now = time.perf_counter_ns()
                if self.path != NEXT:
                    self._reply(404)
                    return
                run = emulator.run
                with emulator.lock:
                    run.next_count += 1
                    first = run.next_count == 1
                    if first:
                        run.first_next_ns = now
                        run.init_cpu_ns = cpu_time_ns(run.pid)
                        run.init_faults = page_faults(run.pid)
                if not first:
                    # The process asks for its second event: hold the request until it is killed.
                    run.release.wait(30)
                    return
                deadline_ms = int(time.time() * 1000) + 60_000
                self._reply(
                    200,
                    run.event,
                    [
                        ("Content-Type", "application/json"),
                        ("Lambda-Runtime-Aws-Request-Id", run.request_id),
                        ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
                        ("Lambda-Runtime-Invoked-Function-Arn", run.function_arn),
                        ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0"),
                    ],
                )

            def do_POST(self):
                now = time.perf_counter_ns()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                run = emulator.run
                if self.path == INIT_ERROR:
                    kind = "init_error"
                elif self.path.startswith(PREFIX) and self.path.endswith("/response"):
                    kind = "response"
                elif self.path.startswith(PREFIX) and self.path.endswith("/error"):
                    kind = "error"
                else:
                    self._reply(404)
                    return
                if run.response_kind is None:
                    run.response_ns = now
                    run.response_kind = kind
                    run.response_body = body
                self._reply(202, b'{"status":"OK"}', [("Content-Type", "application/json")])
                run.done.set()

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                # A killed process resets its held connection; nothing to report.
                if not isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError)):
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = "127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.run.release.set()
        self.server.shutdown()
        self.server.server_close()


def cpu_time_ns(pid):
    """CPU time the process has used so far, all threads (schedstat: ns on CPU)."""
    if pid is None:
        return None
    total = 0
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, task)) as handle:
                total += int(handle.read().split()[0])
    except (OSError, ValueError):
        return None
    return total


def page_faults(pid):
    """(minor, major) page faults of the process so far (/proc/PID/stat fields 10 and 12); a
    major fault read a page of the binary from disk, not from the page cache."""
    if pid is None:
        return None
    try:
        with open("/proc/%d/stat" % pid) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return int(fields[7]), int(fields[9])
    except (OSError, ValueError, IndexError):
        return None


def read_env_file(path):
    env = {}
    if path:
        with open(path) as handle:
            for line in handle:
                line = line.rstrip("\n")
                if line and not line.startswith("#") and "=" in line:
                    key, value = line.split("=", 1)
                    env[key] = value
    return env


def percentile(values, fraction):
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


def summarize_response(kind, body):
    if kind is None:
        return "no response"
    try:
        value = json.loads(body)
    except ValueError:
        return "%s (not JSON)" % kind
    if kind != "response":
        return "%s %s" % (kind, value.get("errorType", ""))
    if isinstance(value, dict) and "statusCode" in value:
        return "HTTP %s" % value["statusCode"]
    if isinstance(value, dict) and "batchItemFailures" in value:
        return "batchItemFailures=%d" % len(value["batchItemFailures"])
    return "response"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--out", required=True)
    parser.add_argument("--endpoint", help="AWS_ENDPOINT_URL for the functions (a moto server)")
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument("--values", required=True, help="KEY=VALUE lines: a value for every template variable")
    parser.add_argument("--function", action="append", required=True, help="NAME=BINARY=EVENT")
    parser.add_argument("--timeout", type=float, default=15.0)
    parser.add_argument("--wrap", default="", help="command prefix for profiling, e.g. 'strace -f -tt -o FILE'")
    parser.add_argument("--gap", type=float, default=0.05,
                        help="seconds to wait before each spawn, so that the work the previous run caused (moto "
                             "answering its invocation) does not overlap the next init")
    args = parser.parse_args()

    values = read_env_file(args.values)
    declared = {f["binary"]: f for f in template_functions.functions(args.template)}
    global_names = set.intersection(*(set(f["env"]) for f in declared.values()))
    functions = []
    for spec in args.function:
        name, binary, event = spec.split("=", 2)
        with open(event, "rb") as handle:
            event_bytes = handle.read()
        json.loads(event_bytes)
        template = declared.get(name.split("+", 1)[0])
        names = template["env"] if template else sorted(global_names)
        missing = [key for key in names if key not in values]
        if missing:
            parser.error("--values has no value for %s (template variables of %s)" % (", ".join(missing), name))
        env = {key: values[key] for key in names}
        env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = template["memory"] if template else "256"
        functions.append({"name": name, "binary": os.path.abspath(binary), "event": event_bytes, "env": env})

    os.makedirs(args.out, exist_ok=True)
    base_env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "INFO",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AWS_SESSION_TOKEN": "coldstart-fake-session-token",
        "_HANDLER": "bootstrap",
    }
    if args.endpoint:
        base_env["AWS_ENDPOINT_URL"] = args.endpoint

    samples = {f["name"]: [] for f in functions}
    cpu_samples = {f["name"]: [] for f in functions}
    fault_samples = {f["name"]: [] for f in functions}
    major_samples = {f["name"]: [] for f in functions}
    first_invocations = {f["name"]: [] for f in functions}
    outcomes = {f["name"]: {} for f in functions}
    logs = {f["name"]: open(os.path.join(args.out, f["name"] + ".log"), "wb") for f in functions}
    failures = 0
    for index in range(args.runs):
        for function in functions:
            name = function["name"]
            env = dict(base_env)
            env.update(function["env"])
            env["AWS_LAMBDA_FUNCTION_NAME"] = name
            env["AWS_LAMBDA_LOG_GROUP_NAME"] = "/aws/lambda/" + name
            env["AWS_LAMBDA_LOG_STREAM_NAME"] = "coldstart-%d" % index
            run = Run(function["event"], "arn:aws:lambda:us-east-1:123456789012:function:" + name)
            emulator = Emulator(run)
            env["AWS_LAMBDA_RUNTIME_API"] = emulator.address
            time.sleep(args.gap)
            start = time.perf_counter_ns()
            process = subprocess.Popen(
                args.wrap.split() + [function["binary"]],
                env=env,
                cwd=os.path.dirname(function["binary"]),
                stdin=subprocess.DEVNULL,
                stdout=logs[name],
                stderr=logs[name],
            )
            run.pid = process.pid
            deadline = time.monotonic() + args.timeout
            while not run.done.is_set() and time.monotonic() < deadline:
                if run.done.wait(0.01):
                    break
                if process.poll() is not None:
                    break
            if args.wrap:
                # Let a profiler wrapping the process finish: the held `next` fails and the
                # runtime exits on its own.
                emulator.close()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            else:
                process.send_signal(signal.SIGKILL)
                process.wait()
                emulator.close()
            if run.first_next_ns is None:
                failures += 1
                print("%s run %d: no request to %s (exit %s)" % (name, index, NEXT, process.returncode), file=sys.stderr)
                continue
            samples[name].append((run.first_next_ns - start) / 1e6)
            if run.init_cpu_ns is not None:
                cpu_samples[name].append(run.init_cpu_ns / 1e6)
            if run.init_faults is not None:
                fault_samples[name].append(run.init_faults[0])
                major_samples[name].append(run.init_faults[1])
            if run.response_ns is not None:
                first_invocations[name].append((run.response_ns - run.first_next_ns) / 1e6)
            outcome = summarize_response(run.response_kind, run.response_body)
            outcomes[name][outcome] = outcomes[name].get(outcome, 0) + 1
            if index == 0:
                with open(os.path.join(args.out, name + ".response.json"), "wb") as handle:
                    handle.write(run.response_body or b"")
    for handle in logs.values():
        handle.close()

    baseline = functions[0]["name"]
    if not samples[baseline]:
        print("the baseline never reached %s" % NEXT, file=sys.stderr)
        return 1
    base_median = statistics.median(samples[baseline])
    base_p90 = percentile(samples[baseline], 0.9)
    base_cpu = statistics.median(cpu_samples[baseline]) if cpu_samples[baseline] else float("nan")
    report = []
    header = "%-18s %3s %9s %9s %9s %7s %7s %9s %7s %6s %5s %9s  %s" % (
        "function", "n", "median", "p90", "min", "x med", "x p90", "cpu med", "x cpu", "minflt", "majflt",
        "1st inv", "first responses")
    print(header)
    for function in functions:
        name = function["name"]
        values = samples[name]
        if not values:
            print("%-18s   0  (never reached next)" % name)
            continue
        median = statistics.median(values)
        p90 = percentile(values, 0.9)
        invocation = statistics.median(first_invocations[name]) if first_invocations[name] else float("nan")
        ratio = median / base_median
        cpu = statistics.median(cpu_samples[name]) if cpu_samples[name] else float("nan")
        faults = statistics.median(fault_samples[name]) if fault_samples[name] else float("nan")
        major = sum(major_samples[name])
        print("%-18s %3d %7.2fms %7.2fms %7.2fms %6.2fx %6.2fx %7.2fms %6.2fx %6.0f %5d %7.1fms  %s" % (
            name, len(values), median, p90, min(values), ratio, p90 / base_p90, cpu, cpu / base_cpu, faults, major,
            invocation,
            ", ".join("%s x%d" % item for item in sorted(outcomes[name].items()))))
        report.append({
            "function": name,
            "binary": function["binary"],
            "binary_bytes": os.path.getsize(function["binary"]),
            "init_ms": values,
            "init_median_ms": median,
            "init_p90_ms": p90,
            "ratio_median": ratio,
            "ratio_p90": p90 / base_p90,
            "init_cpu_ms": cpu_samples[name],
            "init_cpu_median_ms": cpu,
            "ratio_cpu_median": cpu / base_cpu,
            "init_minor_faults": fault_samples[name],
            "init_major_faults": major_samples[name],
            "first_invocation_ms": first_invocations[name],
            "outcomes": outcomes[name],
        })
    with open(os.path.join(args.out, "results.json"), "w") as handle:
        json.dump({"baseline": baseline, "runs": args.runs, "functions": report}, handle, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
