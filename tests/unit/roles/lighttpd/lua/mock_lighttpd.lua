-- Runs the edge's inference script (rendered to SCRIPT) against a small model of lighttpd
-- 1.4.69's mod_magnet API: lighty.r (one request), lighty.c.md, lighty.server.irequests()
-- over the requests lighttpd holds, and a simulated clock. Prints NAME=VALUE pairs, one line per scenario.
-- Usage: lua5.4 mock_lighttpd.lua SCRIPT
local script = assert(loadfile(arg[1]))
local clock = 1000000
os.time = function() return math.floor(clock) end
local held = {}   -- request environments lighttpd still holds (admitted, no response yet)

-- RESPONSE (the response start, optional): {status = N, ctype = "..."}; a body the script sets is in lighty.r.body.
-- BODY (optional): r.req_body as mod_magnet shows it: {len, bytes_in, collect, get}.
-- ATTRS (optional): r.req_attr entries over the defaults (a POST to /v1/models/m:predict).
local function request(ip, env, headers, query, response, body, attrs)
  local r
  r = {req_env = env, req_attr = {["request.remote-addr"] = ip, ["uri.query"] = query, ["request.uri"] = "/v1/models/m:predict",
                                  ["uri.path"] = "/v1/models/m:predict", ["request.method"] = "POST"},
       req_header = headers or {}, resp_header = {["Content-Type"] = response and response.ctype},
       req_body = body or {len = 0, bytes_in = 0},
       resp_body = {set = function(_, parts) r.body = table.concat(parts) end},
       req_item = {http_status = response and response.status or 200}}
  for k, v in pairs(attrs or {}) do r.req_attr[k] = v end
  lighty = {
    r = r,
    c = {md = function(_, data) return data == "right-key" and "DIGEST" or "md(" .. data .. ")" end},
    server = {irequests = function()
      local i = 0
      return function() i = i + 1; if held[i] then return {req_env = held[i]} end end
    end},
  }
  return script()
end

local function count(codes, code) codes[code] = (codes[code] or 0) + 1 end

-- 200 requests aborted by the client at 12/s (admitted, never answered, gone from lighttpd),
-- then 300 ordinary requests at 15/s (each answered: the response start runs the script again).
local aborted, ordinary = {}, {}
for _ = 1, 200 do
  clock = clock + 1 / 12
  count(aborted, request("10.1.1.1", {}))
end
clock = clock + 3
for _ = 1, 300 do
  clock = clock + 1 / 15
  local env = {}
  local code = request("10.1.1.1", env)
  count(ordinary, code)
  if code == 0 then request("10.1.1.1", env) end
end
print(string.format("aborted=%d/%d ordinary=%d/%d", aborted[0] or 0, aborted[429] or 0,
                    ordinary[0] or 0, ordinary[429] or 0))

-- 8 requests in flight from one IPv6 host: its /64 neighbour is refused, another /64 is not.
clock = clock + 120
held = {}
for n = 1, 8 do
  local env = {}
  request("2001:db8:1:1::" .. n, env)
  held[#held + 1] = env
end
print(string.format("same64=%d other64=%d", request("2001:db8:1:1::99", {}), request("2001:db8:1:2::1", {})))
held = {}

-- Wrong API keys from one address, one a second: the failure budget, then 429 even for the
-- right key; the right key from another address passes.
local wrong = {}
for n = 1, 20 do
  clock = clock + 0.1
  count(wrong, request("10.2.2.2", {}, {["X-API-Key"] = "guess-" .. n}))
end
print(string.format("wrong401=%d wrong429=%d right_same=%d right_other=%d", wrong[401] or 0, wrong[429] or 0,
                    request("10.2.2.2", {}, {["X-API-Key"] = "right-key"}),
                    request("10.3.3.3", {}, {["X-API-Key"] = "right-key"})))

-- The prediction cache's mark (edge.conf: the cached route's condition on the query string):
-- set while the cache's up file (CACHE_UP_FILE) exists, cleared otherwise, whatever the client sent.
local up_file = os.getenv("CACHE_UP_FILE")
if up_file then
  local marks = {}
  for _, state in ipairs({"up", "down"}) do
    if state == "up" then assert(io.open(up_file, "w")):close() else os.remove(up_file) end
    clock = clock + 120
    request("10.9.9.9", {}, {}, "lts-edge-cache")  -- the client's own query string
    marks[#marks + 1] = string.format("cache_%s=[%s]", state, lighty.r.req_attr["uri.query"])
  end
  -- The cache up, but it fails a request (lighttpd's own 503 page: killed before its unit
  -- noticed): the answer becomes JSON, and the next requests go straight to the model servers
  -- for CACHE_PAUSE seconds.
  assert(io.open(up_file, "w")):close()
  clock = clock + 120
  local env = {}
  request("10.9.9.9", env)
  local before = lighty.r.req_attr["uri.query"]
  local code = request("10.9.9.9", env, {}, nil, {status = 503, ctype = "text/html"})
  local answer, ctype = lighty.r.body, lighty.r.resp_header["Content-Type"]
  request("10.9.9.9", {})
  local during = lighty.r.req_attr["uri.query"]
  clock = clock + 3
  request("10.9.9.9", {})
  marks[#marks + 1] = string.format("failed_before=[%s] failed_during=[%s] failed_after=[%s] failed_type=%s failed_json=%s failed_code=%d",
    before, during, lighty.r.req_attr["uri.query"], ctype, tostring(answer ~= nil and answer:find('^{"error": ') ~= nil), code)
  -- A request for the cache keeps a copy of its body for the error handler. lighttpd 1.4.69's
  -- r.req_body.get returns the headers too when the body came in the same read: the copy is
  -- the last len bytes.
  clock = clock + 120
  env = {}
  request("10.9.9.9", env, {}, nil, nil, {len = 5, bytes_in = 5, collect = true, get = "POST / HTTP/1.1\r\n\r\nhello"})
  marks[#marks + 1] = string.format("kept=[%s] kept_target=%s kept_mark=[%s]", env["LTS_RETRY_BODY"],
    env["LTS_RETRY_TARGET"], lighty.r.req_attr["uri.query"])
  -- A body that has not all arrived: the script asks lighttpd to collect it, sends nothing on
  -- yet, and marks the request when lighttpd runs it again with the whole body.
  env = {}
  local first = request("10.9.9.9", env, {}, nil, nil, {len = 5, bytes_in = 2, collect = false})
  local first_mark = lighty.r.req_attr["uri.query"]
  local again = request("10.9.9.9", env, {}, "lts-edge-cache", nil, {len = 5, bytes_in = 5, collect = true, get = "world"})
  marks[#marks + 1] = string.format("collect_first=%d/[%s] collect_again=%d/[%s]/[%s]", first, first_mark, again,
    lighty.r.req_attr["uri.query"], env["LTS_RETRY_BODY"])
  -- A body larger than the cache keeps (known at once, or once collected): straight to the
  -- model servers, no copy.
  env = {}
  request("10.9.9.9", env, {}, nil, nil, {len = 70000, bytes_in = 10, collect = false})
  local big_known = string.format("[%s]/%s", lighty.r.req_attr["uri.query"], tostring(env["LTS_RETRY_BODY"]))
  env = {}
  request("10.9.9.9", env, {}, nil, nil, {len = 70000, bytes_in = 70000, collect = true, get = string.rep("x", 70000)})
  marks[#marks + 1] = string.format("big_known=%s big_chunked=[%s]/%s", big_known, lighty.r.req_attr["uri.query"],
    tostring(env["LTS_RETRY_BODY"]))
  -- Only the cached models' routes go to the cache (edge_cache_models: m, predict), and only a
  -- POST's body is kept.
  env = {}
  request("10.9.9.9", env, {}, nil, nil, {len = 5, bytes_in = 5, collect = true, get = "hello"}, {["uri.path"] = "/v1/models/other:predict"})
  local other = string.format("[%s]/%s", lighty.r.req_attr["uri.query"], tostring(env["LTS_RETRY_BODY"]))
  env = {}
  request("10.9.9.9", env, {}, nil, nil, {len = 5, bytes_in = 5, collect = true, get = "hello"}, {["uri.path"] = "/v1/models/m:classify"})
  local other_route = string.format("[%s]/%s", lighty.r.req_attr["uri.query"], tostring(env["LTS_RETRY_BODY"]))
  env = {}
  request("10.9.9.9", env, {}, nil, nil, nil, {["request.method"] = "GET", ["uri.path"] = "/v1/models/m/labels/stable:predict"})
  marks[#marks + 1] = string.format("other_model=%s other_route=%s get=[%s]/%s", other, other_route,
    lighty.r.req_attr["uri.query"], tostring(env["LTS_RETRY_BODY"]))
  -- The error handler (edge.conf, the handler's path): a request the cache dropped pauses the
  -- cache at once and is marked to be sent again, while fewer than RETRIES_AT_ONCE (2 here)
  -- are; the handler's response start is a response start; a 413 pauses nothing.
  local function handled(status, retrying_held)
    clock = clock + 120
    held = {}
    for _ = 1, retrying_held do held[#held + 1] = {LTS_RETRYING = "1"} end
    local henv = {}
    request("10.9.9.9", henv)
    henv["REDIRECT_STATUS"] = status
    request("10.9.9.9", henv, {}, nil, nil, nil, {["uri.path"] = "/lts-edge-cache-retry"})
    request("10.9.9.9", {})
    local during = lighty.r.req_attr["uri.query"]
    local code = request("10.9.9.9", henv, {}, nil, {status = 200, ctype = "application/json"}, nil, {["uri.path"] = "/lts-edge-cache-retry"})
    held = {}
    return string.format("%s/%s/[%s]/%d", status, tostring(henv["LTS_RETRYING"]), during, code)
  end
  marks[#marks + 1] = string.format("handled=%s handled_full=%s handled_413=%s", handled("500", 1), handled("503", 2), handled("413", 0))
  os.remove(up_file)
  print(table.concat(marks, " "))
end

-- The prediction cache's identity header: who the request is, by the credentials that passed;
-- a client's own header of that name never counts.
if os.getenv("CACHE_IDENTITY") then
  clock = clock + 120
  request("10.8.8.8", {}, {["X-API-Key"] = "right-key", ["X-Edge-Cache-Identity"] = "forged"})
  print(string.format("identity_key=[%s]", lighty.r.req_header["X-Edge-Cache-Identity"]))
end
