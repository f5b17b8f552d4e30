#!/usr/bin/python3
"""Sets every key k000000..k<N-1> once (100-byte values) so reads find them.
Usage: preload.py HOST PORT TOKEN [KEYSPACE=10000] [PATH=/db/api/v1/set]"""
import http.client
import json
import sys
import threading

host, port, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
keyspace = int(sys.argv[4]) if len(sys.argv) > 4 else 10000
path = sys.argv[5] if len(sys.argv) > 5 else "/db/api/v1/set"
failed = []


def worker(start, step):
    conn = http.client.HTTPConnection(host, port, timeout=30)
    for i in range(start, keyspace, step):
        body = json.dumps({"key": "k%06d" % i, "value": "v" * 100})
        conn.request("POST", path, body,
                     {"Authorization": "Bearer " + token})
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            failed.append((i, r.status))
    conn.close()


threads = [threading.Thread(target=worker, args=(s, 16)) for s in range(16)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if failed:
    sys.exit("preload: %d sets failed, first %r" % (len(failed), failed[0]))
