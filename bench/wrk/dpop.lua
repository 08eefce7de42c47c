-- Client credentials with a DPoP proof (RFC 9449) in every request. Each proof works once
-- (the server remembers its jti) and for 60 s after its iat, and wrk cannot sign, so
-- bench/dpop-proofs.mjs makes them just before the run: each thread takes its share of the
-- lines of BENCH_PROOFS and sends each proof once, in order. When a thread has none left,
-- a deliberately invalid proof is sent instead (counted as "dry"; the client must use DPoP,
-- so it shows as a non-2xx answer), never a spent one again.
-- There is no response(): as in the cc run (static.lua), wrk does not hand the answers to
-- Lua; the client is registered with --require-dpop, so a 200 means the proof held.
--   BENCH_PROOFS (file), BENCH_THREADS (wrk -t), BENCH_BODY (form body),
--   BENCH_AUTHORIZATION (client's Basic header)
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local proofs, next_proof = {}, 1
dry, seeded = 0, 0

local headers, body

function init(args)
  local n = tonumber(os.getenv("BENCH_THREADS") or "1")
  local i = 0
  for line in io.lines(os.getenv("BENCH_PROOFS")) do
    if line ~= "" and i % n == tid then
      seeded = seeded + 1
      proofs[seeded] = line
    end
    i = i + 1
  end
  body = os.getenv("BENCH_BODY")
  headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Accept"] = "application/json",
    ["Authorization"] = os.getenv("BENCH_AUTHORIZATION"),
  }
end

function request()
  local proof = proofs[next_proof]
  if proof then
    proofs[next_proof] = nil
    next_proof = next_proof + 1
  else
    dry = dry + 1
    proof = "bench-proofs-ran-out"
  end
  headers["DPoP"] = proof
  return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
  local d, s = 0, 0
  for _, t in ipairs(threads) do
    d = d + (t:get("dry") or 0)
    s = s + (t:get("seeded") or 0)
  end
  bench_report(summary, latency, string.format(" seeded=%d dry=%d", s, d))
end
