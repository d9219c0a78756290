-- OpenID Connect access tokens verified inside the edge's event loop (docs/authentication.md).
-- Loaded once per lighttpd process by the inference script; returns new(config, c), a verifier;
-- c is mod_magnet's lighty.c (a script's lighty table is not among the globals this file sees).
--
-- A token is a JWS in compact form (RFC 7515), a JWT access token (RFC 9068, RFC 7519). The
-- signature is checked with the issuer's public keys, which lighttpd-edge-oidc-keys.service
-- (files/lighttpd-edge-oidc-keys.py) fetches from the issuer's jwks_uri and writes to
-- config.keys_file; this script never opens a network connection. It re-reads that file at
-- most once a second (a small local file: microseconds), so new keys count without a reload.
-- A token signed with a key it does not know asks for a refresh by writing config.refresh_file
-- (a systemd path unit starts the fetch), at most once every config.refresh_seconds.
--
-- Never accepted: alg none, HMAC algorithms (a public key is not a secret: "key confusion"),
-- an algorithm outside config.algorithms, a key whose type does not fit the algorithm, a
-- critical header extension, a token in another place than the Authorization header.
local pkey = require "openssl.pkey"
local digest = require "openssl.digest"
local cjson = require "cjson.safe"

local HASH = {RS256 = "sha256", RS384 = "sha384", RS512 = "sha512",
              ES256 = "sha256", ES384 = "sha384", ES512 = "sha512"}
local CURVE = {ES256 = "P-256", ES384 = "P-384", ES512 = "P-521"}
local EC_BYTES = {ES256 = 32, ES384 = 48, ES512 = 66}   -- bytes of r and of s in a JWS signature
local TYP = {["jwt"] = true, ["at+jwt"] = true, ["application/at+jwt"] = true}
local C   -- lighty.c: md (hash, hex) and b64urldec

-- base64url without padding, strictly: another alphabet or a length no encoder makes is malformed.
local function b64url(s)
  if s == "" or #s % 4 == 1 or s:find("[^A-Za-z0-9_-]") then return nil end
  local ok, out = pcall(C.b64urldec, s)
  if ok and type(out) == "string" and out ~= "" then return out end
  return nil
end

-- A JWS ECDSA signature is r || s; OpenSSL verifies the DER form SEQUENCE { INTEGER r, INTEGER s }.
local function der_length(n)
  if n < 128 then return string.char(n) end
  return string.char(0x81, n)   -- every length here is below 256
end
local function der_integer(bytes)
  bytes = bytes:gsub("^\0+", "")
  if bytes == "" or bytes:byte(1) >= 0x80 then bytes = "\0" .. bytes end
  return "\2" .. der_length(#bytes) .. bytes
end
local function ecdsa_der(raw, half)
  if #raw ~= 2 * half then return nil end
  local body = der_integer(raw:sub(1, half)) .. der_integer(raw:sub(half + 1))
  return "\48" .. der_length(#body) .. body
end

local function contains(list, value)
  if type(list) == "string" then return list == value end
  if type(list) ~= "table" then return false end
  for _, v in ipairs(list) do if v == value then return true end end
  return false
end

local Verifier = {}
Verifier.__index = Verifier

local function new(config, c)
  C = c
  for _, name in ipairs({"clock_skew", "max_bytes", "cache_entries", "refresh_seconds"}) do
    config[name] = math.tointeger(tonumber(config[name])) or error("oidc: " .. name .. " is not a whole number")
  end
  local self = setmetatable({config = config, keys = {}, keys_text = nil, keys_checked = -1,
                             refresh_asked = -math.huge, cur = {}, old = {}, ncur = 0,
                             algorithms = {}, audiences = {}}, Verifier)
  for _, alg in ipairs(config.algorithms) do self.algorithms[alg] = HASH[alg] ~= nil end
  for _, aud in ipairs(config.audiences) do self.audiences[aud] = true end
  return self
end

-- The keys file, re-read at most once a second and parsed only when it changed. A file that
-- cannot be read or parsed leaves the keys in use as they are (the fetcher writes atomically).
function Verifier:load_keys(now)
  if now == self.keys_checked then return end
  self.keys_checked = now
  local f = io.open(self.config.keys_file, "rb")
  if not f then return end
  local text = f:read("a")
  f:close()
  if text == self.keys_text then return end
  local doc = cjson.decode(text or "")
  -- Keys of another issuer (the file of an earlier configuration) verify nothing.
  if type(doc) ~= "table" or type(doc.keys) ~= "table" or doc.issuer ~= self.config.issuer then
    self.keys, self.keys_text, self.cur, self.old, self.ncur = {}, text, {}, {}, 0
    return
  end
  -- (JSON null is cjson.null, not nil: only strings count)
  local function str(v) return type(v) == "string" and v or nil end
  local keys = {}
  for kid, jwk in pairs(doc.keys) do
    local ok, key = pcall(pkey.new, jwk.pem)
    if ok and key then keys[kid] = {key = key, kty = str(jwk.kty), crv = str(jwk.crv), alg = str(jwk.alg)} end
  end
  self.keys, self.keys_text = keys, text
  -- Verified tokens are remembered only for the keys that verified them.
  self.cur, self.old, self.ncur = {}, {}, 0
end

function Verifier:ask_refresh(now)
  if now - self.refresh_asked < self.config.refresh_seconds then return end
  self.refresh_asked = now
  local f = io.open(self.config.refresh_file, "w")
  if f then
    f:write(tostring(now), "\n")
    f:close()
  end
end

-- The signature, for a key of the right type for the algorithm.
local function signature_ok(key, alg, signed, signature)
  if alg:sub(1, 2) == "RS" then
    if key.kty ~= "RSA" then return false end
  else
    if key.kty ~= "EC" or key.crv ~= CURVE[alg] then return false end
    signature = ecdsa_der(signature, EC_BYTES[alg])
    if not signature then return false end
  end
  if key.alg and key.alg ~= alg then return false end
  local ok, good = pcall(function()
    return key.key:verify(signature, digest.new(HASH[alg]):update(signed))
  end)
  return ok and good == true
end

-- The claims every request re-checks, also for a token remembered as verified.
function Verifier:claims_ok(claims, now)
  local skew = self.config.clock_skew
  if claims.iss ~= self.config.issuer then return false, "iss" end
  local aud_ok = false
  if type(claims.aud) == "string" then
    aud_ok = self.audiences[claims.aud] == true
  elseif type(claims.aud) == "table" then
    for _, a in ipairs(claims.aud) do if self.audiences[a] then aud_ok = true end end
  end
  if not aud_ok then return false, "aud" end
  if type(claims.exp) ~= "number" or now >= claims.exp + skew then return false, "exp" end
  if claims.nbf ~= nil and (type(claims.nbf) ~= "number" or claims.nbf > now + skew) then return false, "nbf" end
  if claims.iat ~= nil and (type(claims.iat) ~= "number" or claims.iat > now + skew) then return false, "iat" end
  for name, value in pairs(self.config.required_claims) do
    if not contains(claims[name], value) then return false, "claim " .. name end
  end
  return true
end

-- verify(token, now) -> claims, or nil and the reason (for the error log, never for the client).
function Verifier:verify(token, now)
  if #token > self.config.max_bytes then return nil, "too large" end
  self:load_keys(now)
  local id = C.md("sha256", token)
  local claims = self.cur[id] or self.old[id]
  if not claims then
    local h64, p64, s64 = token:match("^([^.]+)%.([^.]+)%.([^.]+)$")
    if not h64 then return nil, "malformed" end
    local header_json, payload_json, signature = b64url(h64), b64url(p64), b64url(s64)
    if not (header_json and payload_json and signature) then return nil, "malformed" end
    local header, payload = cjson.decode(header_json), cjson.decode(payload_json)
    if type(header) ~= "table" or type(payload) ~= "table" then return nil, "malformed" end
    local alg = header.alg
    if type(alg) ~= "string" or not self.algorithms[alg] then return nil, "algorithm not accepted" end
    if header.crit ~= nil then return nil, "critical header extension" end
    if header.typ ~= nil and not (type(header.typ) == "string" and TYP[header.typ:lower()]) then
      return nil, "typ"
    end
    if type(header.kid) ~= "string" then return nil, "no kid" end
    local key = self.keys[header.kid]
    if not key then
      self:ask_refresh(now)
      return nil, "unknown kid"
    end
    if not signature_ok(key, alg, h64 .. "." .. p64, signature) then return nil, "signature" end
    claims = payload
    local ok, why = self:claims_ok(claims, now)
    if not ok then return nil, why end
    -- Remember the verified token (two generations, config.cache_entries in all): the same
    -- token again costs a hash and the claim checks, not a signature verification.
    if self.config.cache_entries > 0 then
      if self.ncur >= math.max(1, self.config.cache_entries // 2) then
        self.old, self.cur, self.ncur = self.cur, {}, 0
      end
      self.cur[id], self.ncur = claims, self.ncur + 1
    end
    return claims
  end
  local ok, why = self:claims_ok(claims, now)
  if not ok then return nil, why end
  return claims
end

-- The scopes a token grants: "scope" (RFC 9068, space-separated) or "scp" (a list or a string).
function Verifier.scopes(claims)
  local set = {}
  local function add(text) for s in text:gmatch("%S+") do set[s] = true end end
  if type(claims.scope) == "string" then add(claims.scope) end
  if type(claims.scp) == "string" then add(claims.scp) end
  if type(claims.scp) == "table" then
    for _, s in ipairs(claims.scp) do if type(s) == "string" then set[s] = true end end
  end
  return set
end

-- The scopes a request needs: the first rule naming its model and route (a rule without
-- routes is for inference), else config.default_scopes.
function Verifier:required_scopes(model, route)
  for _, rule in ipairs(self.config.rules) do
    if rule.model == model and contains(rule.routes or {"inference"}, route) then return rule.scopes end
  end
  return self.config.default_scopes
end

return new
