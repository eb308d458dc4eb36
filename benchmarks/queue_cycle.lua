-- wrk script for benchmarks/bench_queue.py: each wrk thread holds one connection and one counter, and loops
-- issue -> call-next -> start, taking the ticket id from the call-next answer. Run with -t N -c N.
local threads = {}

function setup(thread)
  thread:set("counter", "b" .. #threads)
  table.insert(threads, thread)
end

function init(args)
  kiosk, officer = args[1], args[2]
  step, ticket, cycles, empty = 0, "0", 0, 0
  issue_req = wrk.format("POST", "/api/v1/tickets",
    {["Authorization"] = "Bearer " .. kiosk, ["Content-Type"] = "application/json"}, '{"service":"general"}')
  call_req = wrk.format("POST", "/api/v1/counters/" .. counter .. "/call-next", {["Authorization"] = "Bearer " .. officer})
end

function request()
  if step == 0 then return issue_req end
  if step == 1 then return call_req end
  return wrk.format("POST", "/api/v1/tickets/" .. ticket .. "/start", {["Authorization"] = "Bearer " .. officer})
end

function response(status, headers, body)
  if step == 0 then
    step = 1
  elseif step == 1 then
    if status == 200 then
      ticket = string.match(body, '"id":(%d+)')
      step = 2
    elseif status == 409 then
      -- the counter still holds a called ticket (a previous run stopped mid-cycle): start it, as an officer would
      ticket = string.match(body, '"ticket_id":(%d+)')
      step = 2
    else
      empty = empty + 1 -- another counter took the waiting ticket first: issue again
      step = 0
    end
  else
    if status == 200 then cycles = cycles + 1 end
    step = 0
  end
end

function done(summary, latency, requests)
  local total, none = 0, 0
  for _, t in ipairs(threads) do
    total = total + t:get("cycles")
    none = none + t:get("empty")
  end
  io.write(string.format(
    '{"cycles": %d, "call_next_empty": %d, "requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    total, none, summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
