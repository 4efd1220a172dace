-- wrk script for bench/login: POST /api/v1/login with correct passwords, spread over
-- many users.
--
--   wrk -t1 -c16 -d20s --latency -s login.lua http://127.0.0.1:PORT -- USERS_FILE
--
-- USERS_FILE holds one "user_code password" pair per line. Each wrk thread walks the
-- list round-robin from its own offset, so concurrent requests almost never hit the same
-- user (a correct login resets that user's attempt counter; a few concurrent logins of
-- one user would still be far from the lockout limit). Only correct passwords are sent:
-- wrong ones would lock users.
--
-- At the end it prints machine-readable lines "BENCH key value" that run.sh parses:
-- completed requests, duration, HTTP 200 and non-200 counts, socket errors and latency
-- percentiles (microseconds).

local bodies = {}
local next_index = 1
-- Globals, not locals: done() reads them from each thread's state with thread:get().
ok_count = 0
non200_count = 0

-- Runs in the main Lua state, once per thread, before that thread's init().
local threads = {}
function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local path = args[1]
  if path == nil then
    error("login.lua: pass the users file after --")
  end
  for line in io.lines(path) do
    local code, password = line:match("^(%S+)%s+(%S+)%s*$")
    if code then
      bodies[#bodies + 1] = string.format('{"username":"%s","password":"%s"}', code, password)
    end
  end
  if #bodies == 0 then
    error("login.lua: no users in " .. path)
  end
  -- thread_id was set by setup(); spread the threads' starting points over the list.
  local id = thread_id or 0
  next_index = (id * math.floor(#bodies / math.max(#threads, 1) + 0.5)) % #bodies + 1
  wrk.method = "POST"
  wrk.path = "/api/v1/login"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json"
end

function request()
  local body = bodies[next_index]
  next_index = next_index % #bodies + 1
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 200 then
    ok_count = ok_count + 1
  else
    non200_count = non200_count + 1
    if non200_count <= 3 then
      io.stderr:write(string.format("login.lua: HTTP %d: %s\n", status, tostring(body)))
    end
  end
end

function done(summary, latency, requests)
  local total_ok, total_non200 = 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + (thread:get("ok_count") or 0)
    total_non200 = total_non200 + (thread:get("non200_count") or 0)
  end
  local e = summary.errors
  io.write(string.format("BENCH requests %d\n", summary.requests))
  io.write(string.format("BENCH duration_us %d\n", summary.duration))
  io.write(string.format("BENCH ok %d\n", total_ok))
  io.write(string.format("BENCH non200 %d\n", total_non200))
  io.write(string.format("BENCH socket_errors %d\n", e.connect + e.read + e.write + e.timeout))
  io.write(string.format("BENCH timeouts %d\n", e.timeout))
  io.write(string.format("BENCH latency_mean_us %.0f\n", latency.mean))
  io.write(string.format("BENCH latency_max_us %d\n", latency.max))
  for _, p in ipairs({ 50, 90, 99, 99.9 }) do
    io.write(string.format("BENCH latency_p%s_us %d\n", tostring(p), latency:percentile(p)))
  end
end
