#!/usr/bin/env python3
"""Replays a file of requests (data/headscale_api_replay*.jsonl) against two servers' /api/v1 and compares the answers
field by field. Usage: api_replay.py REQUESTS URL_A KEY_A URL_B KEY_B (A is the reference,
headscale). Prints one line per request and a summary; exits 1 on any unexplained difference.

Compared: the HTTP status, the JSON structure (every field name, at every depth, in both), the
type of every value, and every value except those that must differ between two servers:
  * createdAt, updatedAt, and an expiration the request did not fix: times of the run; both
    must be RFC 3339 times (or both null),
  * lastSeen: when an API key was last used; hs records it (at most once a minute), headscale
    0.29.2 never does (always null), so either may be null; a non-null one must be a time,
  * key, apiKey, prefix: random secrets; both must start with the same "hskey-auth-" or
    "hskey-api-",
  * machineKey, nodeKey, discoKey: each client's own keys; both must have the same type prefix
    ("mkey:", "nodekey:", "discokey:"),
  * an error's message: each server words its own; its gRPC code and HTTP status are compared.
A request marked "differs" must differ (in status or code) exactly as the reason says it does;
it is reported, not hidden."""
import json, re, sys, urllib.request, urllib.error

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
RUN_TIMES = {"createdAt", "updatedAt"}
SECRETS = {"key", "apiKey", "prefix"}
CLIENT_KEYS = {"machineKey", "nodeKey", "discoKey"}

def call(base, key, req):
    data = json.dumps(req["body"]).encode() if "body" in req else None
    r = urllib.request.Request(base + req["path"], data=data, method=req["method"])
    auth = req.get("auth", "key")
    if auth == "key":
        r.add_header("Authorization", "Bearer " + key)
    elif auth != "none":
        r.add_header("Authorization", "Bearer " + auth)
    if data is not None:
        r.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(r, timeout=10) as res:
            return res.status, res.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()

def same_time(a, b, fixed):
    if a is None or b is None:
        return a is None and b is None
    if not (isinstance(a, str) and isinstance(b, str) and TIME.match(a) and TIME.match(b)):
        return False
    zero = "0001-01-01T00:00:00Z"
    if fixed or a == zero or b == zero:
        return a.replace(".000000000", "") == b
    return True

def compare(a, b, path, problems, fixed_times):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                problems.append(f"{path}.{k}: only in {'A' if k in a else 'B'}")
                continue
            sub = f"{path}.{k}"
            if k == "lastSeen":
                if any(v is not None and not (isinstance(v, str) and TIME.match(v)) for v in (a[k], b[k])):
                    problems.append(f"{sub}: not a time: {a[k]!r} vs {b[k]!r}")
            elif k in RUN_TIMES or (k == "expiration" and not fixed_times):
                if not same_time(a[k], b[k], False):
                    problems.append(f"{sub}: times {a[k]!r} vs {b[k]!r}")
            elif k == "expiration" or k == "expiry":
                if not same_time(a[k], b[k], True):
                    problems.append(f"{sub}: {a[k]!r} vs {b[k]!r}")
            elif k in SECRETS and isinstance(a[k], str) and isinstance(b[k], str):
                pa, pb = a[k][:10], b[k][:10]
                if pa != pb or a[k].endswith("-***") != b[k].endswith("-***"):
                    problems.append(f"{sub}: secrets of different forms {a[k]!r} vs {b[k]!r}")
            elif k in CLIENT_KEYS:
                if not (isinstance(a[k], str) and isinstance(b[k], str) and a[k].split(":")[0] == b[k].split(":")[0]):
                    problems.append(f"{sub}: {a[k]!r} vs {b[k]!r}")
            elif k == "message" and path == "":
                pass
            else:
                compare(a[k], b[k], sub, problems, fixed_times)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            problems.append(f"{path}: {len(a)} items vs {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            compare(x, y, f"{path}[{i}]", problems, fixed_times)
    elif a != b:
        problems.append(f"{path}: {a!r} vs {b!r}")

def main():
    reqs_file, url_a, key_a, url_b, key_b = sys.argv[1:6]
    reqs = [json.loads(l) for l in open(reqs_file) if l.strip()]
    bad = same = differ = 0
    for req in reqs:
        sa, ba = call(url_a, key_a, req)
        sb, bb = call(url_b, key_b, req)
        try:
            ja, jb = json.loads(ba), json.loads(bb)
        except ValueError:
            ja, jb = ba.strip(), bb.strip()
        fixed = "expiration" in req.get("body", {})
        problems = [] if sa == sb else [f"status {sa} vs {sb}"]
        compare(ja, jb, "", problems, fixed)
        what = f"{req['method']} {req['path']}"
        if "differs" in req:
            if problems:
                differ += 1
                print(f"differs as documented: {what}: {'; '.join(problems)} ({req['differs']})")
            else:
                bad += 1
                print(f"EXPECTED A DIFFERENCE: {what}: both answered {sa} {ba[:200]}")
        elif problems:
            bad += 1
            print(f"DIFFERENT: {what}: {'; '.join(problems)}\n  A: {sa} {ba[:400]}\n  B: {sb} {bb[:400]}")
        else:
            same += 1
            print(f"same: {what} -> {sa} {ba[:100]}")
    print(f"{len(reqs)} requests: {same} answered alike, {differ} differ as documented, {bad} unexplained differences")
    sys.exit(1 if bad else 0)

main()
