-- Each thread is one learner on one connection: start a knowledge check, submit it (no
-- answers, so it is not passed and may be started again), and again. Prints JSON at the end.
-- Usage: wrk -tN -cN ... -s quiz_submit.lua URL -- learners.tsv
-- learners.tsv: one learner a line: START_PATH, CSRF_TOKEN, COOKIE (tab-separated).

local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

local start_path, body, headers
local attempt = nil

function init(args)
  local lines = {}
  for line in io.lines(args[1]) do
    if line ~= "" then table.insert(lines, line) end
  end
  local mine = lines[(id - 1) % #lines + 1]
  local path, token, cookie = mine:match("^([^\t]*)\t([^\t]*)\t([^\t]*)$")
  start_path = path
  body = "_csrf_token=" .. token
  headers = {["Cookie"] = cookie, ["Content-Type"] = "application/x-www-form-urlencoded"}
end

function request()
  if attempt then
    return wrk.format("POST", "/attempts/" .. attempt .. "/submit", headers, body)
  end
  return wrk.format("POST", start_path, headers, body)
end

function response(status, response_headers, _)
  if attempt then
    attempt = nil
    return
  end
  local location = response_headers["location"] or response_headers["Location"] or ""
  attempt = location:match("/attempts/(%d+)")
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
