-- One fixed request, built once (no request() function, so wrk sends it as fast as it can):
--   BENCH_METHOD (GET), BENCH_BODY (form body, for POST), BENCH_AUTHORIZATION (header value).
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
local authorization = os.getenv("BENCH_AUTHORIZATION")
if authorization and authorization ~= "" then
  wrk.headers["Authorization"] = authorization
end
wrk.headers["Accept"] = "application/json"
