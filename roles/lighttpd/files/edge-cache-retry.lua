-- lighttpd_tensorflow.serving: the edge's error handler for the cached models' routes (edge.conf;
-- docs/cache.md, "When the cache is down"). lighttpd comes here, with the request's method set
-- to GET and its body dropped, when the request got no answer from its backend: the prediction
-- cache, or a model server for a request that went straight.
--
-- The inference script runs before this one and marks a request the cache dropped
-- (REDIRECT_STATUS 500: the connection closed before an answer, the cache killed mid-request;
-- 503: its socket refused the request before the cache's unit noticed) with LTS_RETRYING, when
-- it kept the body of that POST and fewer than its limit are being sent again. Such a request
-- gets its body back, and lighttpd runs the CGI program beside this script
-- (edge-cache-retry.py), which sends it once more, straight to the model servers. A prediction
-- has no side effects, so one that may have reached a model server through the cache can be
-- sent again. A timeout (504) is not sent again: the model servers were slow, and a second copy
-- would only add to their load. The inference script's response start, which runs next,
-- releases the client's slot.
local r = lighty.r
local env = r.req_env
-- The inference script's response start runs next: it is one (releasing the slot, if the
-- request took one), never an admission, even for a request lighttpd refused before the script
-- saw it (413) or one a client sent here itself.
env["LTS_SEEN"] = "1"
env["LTS_COLLECTING"] = ""  -- a body lighttpd could not read (400, 413) ends here, not collected again

local failed = tonumber(env["REDIRECT_STATUS"] or "")
if not failed then
  -- A client asked for this path itself.
  r.req_header["X-Route"] = "denied"
  r.resp_header["Content-Type"] = "application/json"
  r.resp_body:set({'{"error": "not found"}\n'})
  return 404
end

local body = env["LTS_RETRY_BODY"]
if env["LTS_RETRYING"] == "1" and body and (failed == 500 or failed == 503) then
  env["LTS_RETRY_BODY"] = ""  -- not into the CGI program's environment
  r.req_body.set(body)
  return 0
end

-- Nothing to send again: lighttpd's error, in TF Serving's shape.
r.resp_header["Content-Type"] = "application/json"
if failed >= 500 then
  r.resp_body:set({'{"error": "the edge got no answer from its backend (' .. failed .. ')"}\n'})
else
  r.resp_body:set({'{"error": "the edge refused the request (' .. failed .. ')"}\n'})
end
return failed
