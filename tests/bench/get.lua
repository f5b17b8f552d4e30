-- wrk driver for InsiDB reads: GET GET_PATH?key=k<nnnnnn> (default
-- /db/api/v1/get) with
-- keys uniform over KEYSPACE (10000), preloaded by the caller.
-- TOKEN (the root key) comes from the environment.
local keyspace = tonumber(os.getenv("KEYSPACE") or "10000")
local token = os.getenv("TOKEN") or ""
local path = os.getenv("GET_PATH") or "/db/api/v1/get"
local reqs = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

function init(args)
  math.randomseed(os.time() + (tonumber(wrk.thread:get("tid")) or 1) * 7919)
  local hdr = { ["Authorization"] = "Bearer " .. token }
  for i = 0, keyspace - 1 do
    reqs[i] = wrk.format("GET", string.format("%s?key=k%06d", path, i), hdr)
  end
end

function request()
  return reqs[math.random(0, keyspace - 1)]
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "RESULT reqs=%d secs=%.2f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f non2xx=%d sockerr=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, e.status,
    e.connect + e.read + e.write + e.timeout))
end
