-- wrk: POST predictions whose inputs vary (make bench, prediction cache).
-- BENCH_INPUTS=skew: x from 1,000 inputs, Zipf-distributed (s = 1: input k is chosen with
--   weight 1/k, so a few inputs are most of the traffic, as with retries, dashboards and
--   popular items); BENCH_INPUTS=distinct: every request a new input (every one a miss).
-- BENCH_SEED makes the distinct inputs of one run differ from another's.
local mode = os.getenv("BENCH_INPUTS") or "skew"
local seed = tonumber(os.getenv("BENCH_SEED") or "1")
local n = 0
local cdf = {}
local total = 0
for k = 1, 1000 do
  total = total + 1 / k
  cdf[k] = total
end
math.randomseed(seed)

local function zipf()
  local r = math.random() * total
  local lo, hi = 1, 1000
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < r then lo = mid + 1 else hi = mid end
  end
  return lo
end

request = function()
  local x
  if mode == "distinct" then
    n = n + 1
    x = seed * 10000000 + n
  else
    x = zipf()
  end
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, '{"instances": [' .. x .. '.0]}')
end
