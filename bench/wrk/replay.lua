-- Replays the requests listed in a file, round robin, each thread starting at its own place.
-- One request a line, tab-separated: METHOD, PATH, BODY (may be empty), then any headers
-- as "Name: value". Prints one JSON line of results when the run ends.
-- Usage: [WRK_THINK_MS=50] wrk ... -s replay.lua URL -- requests.tsv
-- WRK_THINK_MS makes each connection wait that long between requests (a steady load).

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local requests = {}
local position = 0
local think = tonumber(os.getenv("WRK_THINK_MS") or "0") or 0

local function split(line)
  local fields = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do
    table.insert(fields, field)
  end
  return fields
end

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then
      local fields = split(line)
      local headers = {}
      for i = 4, #fields do
        local name, value = fields[i]:match("^([^:]+):%s*(.*)$")
        if name then headers[name] = value end
      end
      local body = fields[3]
      if body == "" then body = nil end
      if body and not headers["Content-Type"] then
        headers["Content-Type"] = "application/x-www-form-urlencoded"
      end
      table.insert(requests, wrk.format(fields[1], fields[2], headers, body))
    end
  end
  position = (id * 7919) % #requests
end

function request()
  position = position % #requests + 1
  return requests[position]
end

if think > 0 then
  function delay()
    return think
  end
end

function done(summary, latency, _)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "status_errors": %d, "socket_errors": %d, "bytes": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout, summary.bytes))
end
