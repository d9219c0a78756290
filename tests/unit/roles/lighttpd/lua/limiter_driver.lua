-- Drives the edge's inference script (rendered to SCRIPT) one event at a time, for the
-- limiter's property test (tests/unit/roles/lighttpd/test_limiter_properties.py). The same model of
-- lighttpd 1.4.69's mod_magnet as mock_lighttpd.lua: lighty.r for the request, and
-- lighty.server.irequests() over the requests lighttpd still holds. Reads one command a line
-- on standard input and answers one line each:
--   reset                 forget the script's state (a new lighttpd process)
--   clock T               set the wall clock (seconds, may step back)
--   admit ID IP           a request from IP reaches the admission stage: "STATUS REASON KEY SLOT"
--   release N             the response of the Nth held request (modulo how many are held, in
--                         admission order) starts: the script runs again: "ID" or "none"
--   abort N               the client aborts the Nth held request: lighttpd drops it without
--                         running the script: "ID" or "none"
--   end                   answers "end" (the end of a batch)
-- Usage: lua5.4 limiter_driver.lua SCRIPT
local script = assert(loadfile(arg[1]))
local clock = 1000000
os.time = function() return math.floor(clock) end
local envs = {}   -- request ID -> its environment, while lighttpd holds the request
local order = {}  -- the held request IDs in admission order

local function nth(n)
  if #order == 0 then return nil end
  local i = n % #order + 1
  local id = order[i]
  table.remove(order, i)
  return id
end

local function run(env, ip)
  lighty = {
    r = {req_env = env, req_attr = {["request.remote-addr"] = ip}, req_header = {},
         resp_header = {}, resp_body = {set = function() end}, req_body = {len = 0, bytes_in = 0},
         req_item = {http_status = 200}},
    c = {md = function() return "OTHER" end},
    server = {irequests = function()
      local list = {}
      for _, held in pairs(envs) do list[#list + 1] = {req_env = held} end
      local i = 0
      return function() i = i + 1; return list[i] end
    end},
  }
  return script()
end

for line in io.lines() do
  local cmd, a, b = line:match("^(%S+)%s*(%S*)%s*(%S*)")
  if cmd == "reset" then
    package.loaded["lighttpd_tensorflow_inference"], envs, order = nil, {}, {}
    print("ok")
  elseif cmd == "clock" then
    clock = tonumber(a)
    print("ok")
  elseif cmd == "admit" then
    local env = {}
    envs[a] = env  -- lighttpd holds the request while the script runs
    local status = run(env, b)
    if status ~= 0 then envs[a] = nil else order[#order + 1] = a end  -- a refusal is answered at once
    print(string.format("%d %s %s %s", status, env["LTS_REFUSAL"] or "-", env["LTS_KEY"] or "-",
                        env["LTS_SLOT"] or "-"))
  elseif cmd == "release" then
    local id = nth(tonumber(a))
    if id then run(envs[id], "unused"); envs[id] = nil end
    print(id or "none")
  elseif cmd == "abort" then
    local id = nth(tonumber(a))
    if id then envs[id] = nil end
    print(id or "none")
  elseif cmd == "end" then
    print("end")
  else
    error("unknown command: " .. line)
  end
  io.stdout:flush()
end
