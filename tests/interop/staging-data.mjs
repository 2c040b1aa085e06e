// The deterministic payloads the staging server sends, shared with the tests that
// check what was recorded (importing the server module would start a server).
export function metric(entityId, i) {
  return { entityId, metricName: i % 2 ? "attendees" : "revenue", value: i * 1.5, timestamp: 1700000000000 + i, i };
}
