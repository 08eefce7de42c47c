-- Shared by the wrk scripts of bench/run.sh: at the end of a run, one machine-readable
-- line for run.sh to parse (latencies in microseconds), after wrk's own report.
function bench_report(summary, latency, extra)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d mean_us=%d status_errors=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d%s\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    math.floor(latency.mean), e.status, e.connect, e.read, e.write, e.timeout, extra or ""))
end

function done(summary, latency, requests)
  bench_report(summary, latency)
end
