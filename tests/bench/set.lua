-- wrk driver for InsiDB writes: POST SET_PATH (default /db/api/v1/set) with a key drawn
-- uniformly from KEYSPACE (10000) and VALUE_SIZE (100) printable bytes.
-- TOKEN (the root key) comes from the environment.
-- Usage: TOKEN=... wrk -t2 -c64 -d10s -s set.lua http://HOST:PORT
local keyspace = tonumber(os.getenv("KEYSPACE") or "10000")
local value_size = tonumber(os.getenv("VALUE_SIZE") or "100")
local token = os.getenv("TOKEN") or ""
local path = os.getenv("SET_PATH") or "/db/api/v1/set"
local reqs = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

local function value()
  local t = {}
  for i = 1, value_size do t[i] = string.char(math.random(97, 122)) end
  return table.concat(t)
end

function init(args)
  math.randomseed(os.time() + (tonumber(wrk.thread:get("tid")) or 1) * 7919)
  local hdr = { ["Authorization"] = "Bearer " .. token,
                ["Content-Type"] = "application/json" }
  for i = 0, keyspace - 1 do
    local body = string.format('{"key":"k%06d","value":"%s"}', i, value())
    reqs[i] = wrk.format("POST", path, hdr, body)
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
