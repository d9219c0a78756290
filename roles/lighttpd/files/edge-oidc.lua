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
-- critical header extension, a token in another place than the Authorization header, JSON
-- beyond the standard (NaN, Infinity, hexadecimal: "exp": NaN would never expire), another
-- base64url spelling than the canonical one. The header is checked first and the signature
-- next, over the token's own bytes: a forged token's payload is never decoded, so it costs
-- about one signature check whatever it carries. config.require_at_jwt: typ must say at+jwt
-- (RFC 9068), which tells an access token from an ID token of the same issuer.
local pkey = require "openssl.pkey"
local digest = require "openssl.digest"
-- A strict instance of its own: the cjson module the inference script shares keeps its settings.
local cjson = require("cjson.safe").new()
cjson.decode_invalid_numbers(false)

local HASH = {RS256 = "sha256", RS384 = "sha384", RS512 = "sha512",
              ES256 = "sha256", ES384 = "sha384", ES512 = "sha512"}
local CURVE = {ES256 = "P-256", ES384 = "P-384", ES512 = "P-521"}
local EC_BYTES = {ES256 = 32, ES384 = 48, ES512 = 66}   -- bytes of r and of s in a JWS signature
local TYP = {["jwt"] = true, ["at+jwt"] = true}   -- media types, "application/" left out
-- A header is alg, kid, typ (100-300 bytes at the providers known): one larger than this, in
-- base64url characters, is refused before it is decoded (an 8 kB one cost 9 verifications).
local HEADER_MAX = 1024
local C   -- lighty.c: md (hash, hex) and b64urldec

-- base64url without padding, canonical: only its alphabet, no length an encoder never makes
-- (4n+1), and the bits of the last character that belong to no byte are zero (else 4 or 16
-- spellings of one signature would verify, and a lenient decoder ignores them).
local ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local B64 = {}   -- byte of a character -> its 6 bits
for i = 1, 64 do B64[ALPHABET:byte(i)] = i - 1 end
local SPARE = {[0] = 1, [2] = 16, [3] = 4}   -- by length % 4: 4 spare bits after 1 byte, 2 after 2
local function b64url_ok(s)
  -- (anchored: one pass; an unanchored search for a bad character costs 3-5 times as much)
  if #s % 4 == 1 or not s:find("^[A-Za-z0-9_-]+$") then return false end
  return B64[s:byte(-1)] % SPARE[#s % 4] == 0
end
local function b64url(s)
  local ok, out = pcall(C.b64urldec, s)
  if ok and type(out) == "string" and #out == #s * 3 // 4 then return out end
  return nil
end

-- lua-cjson reads 1e999 as infinity even with invalid numbers refused: every number must be finite.
local function finite(v)
  if type(v) == "number" then return v == v and v > -math.huge and v < math.huge end
  if type(v) == "table" then
    for _, x in pairs(v) do
      if not finite(x) then return false end
    end
  end
  return true
end
-- A JSON object (or array) of standard JSON, with finite numbers (unless numbers are never
-- read from it: the header), or nil.
local function json_object(text, any_number)
  local doc = text and cjson.decode(text)
  if type(doc) == "table" and (any_number or finite(doc)) then return doc end
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
  -- require_at_jwt: true or false (or the string Jinja may make of one); absent: false.
  if config.require_at_jwt == nil then config.require_at_jwt = false end
  config.require_at_jwt = ({[true] = true, ["true"] = true, ["True"] = true,
                            [false] = false, ["false"] = false, ["False"] = false})[config.require_at_jwt]
  if config.require_at_jwt == nil then error("oidc: require_at_jwt is not a boolean") end
  local self = setmetatable({config = config, keys = {}, keys_text = nil, keys_checked = -1,
                             refresh_asked = -math.huge, cur = {}, old = {}, ncur = 0,
                             algorithms = {}, audiences = {}}, Verifier)
  for _, alg in ipairs(config.algorithms) do self.algorithms[alg] = HASH[alg] ~= nil end
  for _, aud in ipairs(config.audiences) do self.audiences[aud] = true end
  return self
end

-- One key of the keys file, {kty, crv, alg, pem} as the fetcher writes it; nil for anything
-- else. (JSON null is cjson.null, not nil: only strings count; pkey.new given a table would
-- make a new key.)
local function str(v) return type(v) == "string" and v or nil end
local function load_key(jwk)
  if type(jwk) ~= "table" or type(jwk.pem) ~= "string" or (jwk.kty ~= "RSA" and jwk.kty ~= "EC") then return nil end
  local ok, key = pcall(pkey.new, jwk.pem)
  if not (ok and key) then return nil end
  return {key = key, kty = jwk.kty, crv = str(jwk.crv), alg = str(jwk.alg)}
end

-- The keys file, re-read at most once a second and parsed only when it changed. A file that
-- cannot be read or parsed leaves the keys in use as they are (the fetcher writes atomically),
-- and an entry that is not a usable key is skipped. keys[kid] is a list: one kid may name an
-- RSA and an EC key (RFC 7517 4.5), written as a list of keys instead of one.
function Verifier:load_keys(now)
  if now == self.keys_checked then return end
  self.keys_checked = now
  local f = io.open(self.config.keys_file, "rb")
  if not f then return end
  local text = f:read("a")
  f:close()
  if text == self.keys_text then return end
  self.keys_text = text
  local doc = json_object(text)
  if not doc or type(doc.keys) ~= "table" then return end
  -- Keys of another issuer (the file of an earlier configuration) verify nothing.
  if doc.issuer ~= self.config.issuer then
    self.keys, self.cur, self.old, self.ncur = {}, {}, {}, 0
    return
  end
  local keys = {}
  for kid, entry in pairs(doc.keys) do
    local list = {}
    for _, jwk in ipairs(type(entry) == "table" and entry[1] ~= nil and entry or {entry}) do
      list[#list + 1] = load_key(jwk)
    end
    if type(kid) == "string" and #list > 0 then keys[kid] = list end
  end
  self.keys = keys
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

-- The key of a kid's list whose type fits the algorithm: RSA for RS*, EC on the algorithm's
-- curve for ES*, and the key's own alg when it names one.
local function key_for(list, alg)
  for _, key in ipairs(list) do
    local fits = (alg:sub(1, 2) == "RS" and key.kty == "RSA") or (key.kty == "EC" and key.crv == CURVE[alg])
    if fits and (key.alg == nil or key.alg == alg) then return key end
  end
  return nil
end

-- The signature (the bytes of the token's third part) over signed, with a key that fits alg.
local function signature_ok(key, alg, signed, signature)
  if key.kty == "EC" then
    signature = ecdsa_der(signature, EC_BYTES[alg])
    if not signature then return false end
  end
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
    -- The header, then the signature over the token's own bytes; the payload is decoded only
    -- once it verified (its base64url is checked up front: one anchored pattern, no decoding).
    -- Plain finds split the token: a pattern doing so costs about a signature check at 8 kB.
    local dot1 = token:find(".", 1, true)
    local dot2 = dot1 and token:find(".", dot1 + 1, true)
    if not dot2 or token:find(".", dot2 + 1, true) then return nil, "malformed" end
    local h64, p64, s64 = token:sub(1, dot1 - 1), token:sub(dot1 + 1, dot2 - 1), token:sub(dot2 + 1)
    if #h64 > HEADER_MAX then return nil, "header too large" end
    if not (b64url_ok(h64) and b64url_ok(p64) and b64url_ok(s64)) then return nil, "malformed" end
    local header = json_object(b64url(h64), true)
    if not header then return nil, "malformed" end
    local alg = header.alg
    if type(alg) ~= "string" or not self.algorithms[alg] then return nil, "algorithm not accepted" end
    if header.crit ~= nil then return nil, "critical header extension" end
    -- typ is a media type (RFC 7515 4.1.9): case-insensitive, "application/" may be left out.
    local typ = type(header.typ) == "string" and header.typ:lower():gsub("^application/", "") or header.typ
    if self.config.require_at_jwt and typ ~= "at+jwt" then return nil, "typ" end
    if typ ~= nil and not TYP[typ] then return nil, "typ" end
    if type(header.kid) ~= "string" then return nil, "no kid" end
    local keys = self.keys[header.kid]
    if not keys then
      self:ask_refresh(now)
      return nil, "unknown kid"
    end
    -- A known kid without a key of the algorithm's type: as wrong as another key.
    local key, signature = key_for(keys, alg), b64url(s64)
    if not (key and signature and signature_ok(key, alg, token:sub(1, dot2 - 1), signature)) then
      return nil, "signature"
    end
    claims = json_object(b64url(p64))
    if not claims then return nil, "malformed" end
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
-- Spaces only separate them (RFC 6749 3.3): a tab or a newline is part of a scope, which then
-- matches none.
function Verifier.scopes(claims)
  local set = {}
  local function add(text) for s in text:gmatch("[^ ]+") do set[s] = true end end
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
