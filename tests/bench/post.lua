-- wrk: POST a prediction request (the body TF Serving's half_plus_two example uses).
wrk.method = "POST"
wrk.body = '{"instances": [1.0, 2.0, 5.0]}'
wrk.headers["Content-Type"] = "application/json"
if os.getenv("BENCH_API_KEY") then wrk.headers["X-API-Key"] = os.getenv("BENCH_API_KEY") end
if os.getenv("BENCH_BEARER") then wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_BEARER") end
if os.getenv("BENCH_CLOSE") then wrk.headers["Connection"] = "close" end
