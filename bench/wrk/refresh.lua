-- Refresh-token grant with rotation. Every refresh token works once: each thread keeps a
-- queue of unspent tokens (its share of the lines of BENCH_TOKENS, "refresh<TAB>access"),
-- request() takes one out, and response() puts back the new one the server answered with.
-- A token leaves the queue before it is sent, so none is ever sent twice (a spent token
-- sent again would make the server revoke its whole family). A request whose answer is
-- lost (an error, a timeout, the end of the run) ends its family; seed at least twice as
-- many tokens as connections. When a queue runs dry, a deliberately invalid token is sent
-- instead (counted as "dry"; it shows as a non-2xx answer).
--   BENCH_TOKENS (file), BENCH_THREADS (wrk -t), BENCH_AUTHORIZATION (client's Basic header)
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local queue, head, tail = {}, 1, 0
dry, seeded, rotated = 0, 0, 0

local function push(token)
  tail = tail + 1
  queue[tail] = token
end

local function pop()
  if head > tail then return nil end
  local token = queue[head]
  queue[head] = nil
  head = head + 1
  return token
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local headers

function init(args)
  local n = tonumber(os.getenv("BENCH_THREADS") or "1")
  local i = 0
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    local token = line:match("^([^\t]+)")
    if token and i % n == tid then
      push(token)
      seeded = seeded + 1
    end
    i = i + 1
  end
  headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Accept"] = "application/json",
    ["Authorization"] = os.getenv("BENCH_AUTHORIZATION"),
  }
end

function request()
  local token = pop()
  if not token then
    dry = dry + 1
    token = "bench-queue-ran-dry"
  end
  return wrk.format("POST", nil, headers, "grant_type=refresh_token&refresh_token=" .. urlencode(token))
end

function response(status, hdrs, body)
  if status == 200 then
    local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
    if token then
      push(token)
      rotated = rotated + 1
    end
  end
end

function done(summary, latency, requests)
  local d, s, r = 0, 0, 0
  for _, t in ipairs(threads) do
    d = d + (t:get("dry") or 0)
    s = s + (t:get("seeded") or 0)
    r = r + (t:get("rotated") or 0)
  end
  bench_report(summary, latency, string.format(" seeded=%d rotated=%d dry=%d", s, r, d))
end
