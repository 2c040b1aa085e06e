// Arrival error of replayed events, shared by the receiver (server-side replay) and
// the staging server (client replay). The plan puts event i at t0 + i * spacing on
// the receiver's clock; t0, the instant the replay started, is not known to the
// receiver, so it is taken as the earliest arrival minus its planned offset (the
// least-delayed event defines "on time"). Errors are then >= 0 and include any
// drift, bunching and late flushes, but not the constant part of the latency.
export function summarize(arrivals, spacingUs, received) {
  let t0 = Infinity;
  for (let i = 0; i < arrivals.length; i++) {
    if (!Number.isNaN(arrivals[i])) t0 = Math.min(t0, arrivals[i] - i * spacingUs);
  }
  const errors = [];
  for (let i = 0; i < arrivals.length; i++) {
    if (!Number.isNaN(arrivals[i])) errors.push(arrivals[i] - i * spacingUs - t0);
  }
  errors.sort((a, b) => a - b);
  const pick = (q) => (errors.length ? errors[Math.min(errors.length - 1, Math.round((errors.length - 1) * q))] : 0);
  return {
    expected: arrivals.length,
    received,
    p50_us: Math.round(pick(0.5)),
    p99_us: Math.round(pick(0.99)),
    max_us: Math.round(errors.length ? errors[errors.length - 1] : 0),
  };
}
