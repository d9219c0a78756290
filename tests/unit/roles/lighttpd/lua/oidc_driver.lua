-- Runs the edge's token verifier (roles/lighttpd/files/edge-oidc.lua) against tokens the unit
-- test minted, with lighty.c.md and lighty.c.b64urldec as lighttpd 1.4.69's mod_magnet has them
-- (the hash is hex, upper case). Prints NAME=RESULT per case, RESULT being ok, forbidden:SCOPE
-- or the refusal's reason (spaces as _), then cache=N (verified tokens remembered).
-- Usage: lua5.4 oidc_driver.lua MODULE CONFIG_JSON CASES [count]
--   CASES: lines NAME NOW MODEL ROUTE TOKEN, or @FIELD VALUE, which sets a config field (a
--   string) from then on (the verifier keeps the table it was given: @keys_file PATH).
--   count: also NAME.b64=N, the bytes the verifier gave lighty.c.b64urldec for that case.
local cjson = require "cjson"
local digest = require "openssl.digest"

local ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local function b64urldec(s)
  local bits, out = {}, {}
  for i = 1, #s do
    local v = ALPHABET:find(s:sub(i, i), 1, true)
    if not v then return nil end
    v = v - 1
    for b = 5, 0, -1 do bits[#bits + 1] = (v >> b) & 1 end
  end
  for i = 1, #bits - 7, 8 do
    local byte = 0
    for b = 0, 7 do byte = byte * 2 + bits[i + b] end
    out[#out + 1] = string.char(byte)
  end
  return table.concat(out)
end

local decoded = 0
local lighty = {c = {
  md = function(alg, data)
    return (digest.new(alg):final(data):gsub(".", function(c) return string.format("%02X", c:byte()) end))
  end,
  b64urldec = function(s) decoded = decoded + #s; return b64urldec(s) end,
}}

local new = dofile(arg[1])
local config = cjson.decode(io.open(arg[2]):read("a"))
local verifier = new(config, lighty.c)
for line in io.lines(arg[3]) do
  local field, value = line:match("^@(%S+) (.*)$")
  if field then
    config[field] = value
    goto continue
  end
  local name, now, model, route, token = line:match("^(%S+) (%S+) (%S+) (%S+) (%S*)$")
  decoded = 0
  local claims, why = verifier:verify(token, tonumber(now))
  local result
  if claims then
    local granted = verifier.scopes(claims)
    for _, scope in ipairs(verifier:required_scopes(model, route)) do
      if not granted[scope] then result = "forbidden:" .. scope end
    end
    result = result or "ok"
  else
    result = why:gsub(" ", "_")
  end
  print(name .. "=" .. result)
  if arg[4] == "count" then print(name .. ".b64=" .. decoded) end
  ::continue::
end
local n = 0
for _ in pairs(verifier.cur) do n = n + 1 end
for _ in pairs(verifier.old) do n = n + 1 end
print("cache=" .. n)
