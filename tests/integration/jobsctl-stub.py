#!/usr/bin/env python3
"""A stand-in for jobsd's /jobsd/v1/events and /jobsd/v1/runs/{id}/wait
(proto/localapi.h), on a Unix socket, for tests/integration/jobsctl-events.sh:
it proves that jobsctl follows the event stream and the wait answer, and never
polls runs/get, while jobsd itself does not serve them yet.

    jobsctl-stub.py SOCKET

Run 1 succeeds (2 tasks), run 2 fails (its task 'boom'), run 3 never ends.
Prints READY once it listens. runs/get answers 500, and every request is
logged to stdout as 'REQUEST <path>'."""
import json
import os
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

START = 1767225600000
PLANS = {
    1: ("stub ok", [("RUNNING", "", 0), ("RUNNING", "", 1), ("TERMINATED", "SUCCESS", 2)]),
    2: ("stub bad", [("RUNNING", "", 0), ("TERMINATED", "FAILED", 2)]),
    3: ("stub slow", [("RUNNING", "", 0)]),
}
sent = {r: threading.Event() for r in PLANS}


def run_json(run_id):
    name, steps = PLANS[run_id]
    lc, result, done = steps[-1]
    state = {"life_cycle_state": lc}
    if result:
        state["result_state"] = result
    tasks = []
    for i, key in enumerate(["a", "boom" if run_id == 2 else "b"]):
        ts = {"life_cycle_state": "TERMINATED" if i < done else "RUNNING"}
        if i < done:
            ts["result_state"] = "FAILED" if key == "boom" else "SUCCESS"
        tasks.append({"task_key": key, "run_id": run_id * 100 + i, "state": ts})
    run = {"run_id": run_id, "run_name": name, "start_time": START, "state": state,
           "tasks": tasks}
    if result:
        run["end_time"] = START + 42000
    return run


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, status, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        print("REQUEST " + self.path, flush=True)
        if u.path == "/jobsd/v1/events":
            # watch (no run_id, or a job_id) gets a stream that ends.
            self.events([int(r) for r in q.get("run_id", [])] or list(PLANS),
                        "job_id" in q or "run_id" not in q)
        elif u.path.startswith("/jobsd/v1/runs/") and u.path.endswith("/wait"):
            run_id = int(u.path.split("/")[4])
            timeout = int(q.get("timeout", ["60"])[0])
            if run_id not in PLANS:
                return self.send_json(404, {"error_code": "RESOURCE_DOES_NOT_EXIST",
                                            "message": "Run %d is not known" % run_id})
            terminal = bool(PLANS[run_id][1][-1][1])
            if terminal:
                sent[run_id].wait(10)
            else:
                time.sleep(min(timeout, 10))
            self.send_json(200, run_json(run_id),
                           [("X-Jobsd-Wait", "terminal" if terminal else "timeout")])
        elif u.path == "/api/2.2/jobs/runs/get-output":
            self.send_json(200, {"error": "boom went the task", "logs": "line 1\nline 2\n"})
        else:
            self.send_json(500, {"error_code": "INTERNAL_ERROR",
                                 "message": "the stub does not serve " + u.path})

    def events(self, runs, ends):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            self.wfile.write(b": keepalive\n\n")
            seq = 0
            for run_id in runs:
                name, steps = PLANS[run_id]
                for lc, result, done in steps:
                    seq += 1
                    ev = {"run_id": run_id, "run_name": name, "life_cycle_state": lc,
                          "tasks_total": 2, "tasks_done": done, "start_time": START,
                          "time": START + seq * 1000, "terminal": bool(result)}
                    if result:
                        ev["result_state"] = result
                        ev["end_time"] = START + 42000
                    self.wfile.write(("id: %d\nevent: run\ndata: %s\n\n"
                                      % (seq, json.dumps(ev))).encode())
                    self.wfile.flush()
                    time.sleep(0.2)
                sent[run_id].set()
            if not ends:
                time.sleep(10)
        except (BrokenPipeError, ConnectionResetError):
            pass


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


path = sys.argv[1]
if os.path.exists(path):
    os.unlink(path)
server = Server(path, Handler)
print("READY", flush=True)
server.serve_forever()
