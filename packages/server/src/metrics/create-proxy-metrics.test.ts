import { describe, expect, it } from 'vitest';
import { createProxyMetrics } from './create-proxy-metrics.js';

describe('createProxyMetrics', () => {
  describe('when allowed calls, denials and a credit are recorded', () => {
    it('should render Prometheus counters, a latency histogram and the in-flight gauge', () => {
      const metrics = createProxyMetrics();
      metrics.recordCall({ vendor: 'stripe', decision: 'allowed', actualMicros: 5_000_000, seconds: 0.02 });
      metrics.recordCall({ vendor: 'stripe', decision: 'allowed', actualMicros: 2_500_000, seconds: 0.3 });
      metrics.recordCall({ vendor: 'stripe', decision: 'allowed', actualMicros: -1_000_000, seconds: 0.01 });
      metrics.recordCall({ vendor: 'stripe', decision: 'denied', reason: 'KEYBRAKE_CAP_EXCEEDED', actualMicros: 0 });
      metrics.recordCall({ vendor: 'we"ird', decision: 'denied', actualMicros: 0 });
      metrics.addInFlight(2);
      metrics.addInFlight(-1);
      const text = metrics.render();
      expect(text).toContain('# TYPE keybrake_calls_total counter\n');
      expect(text).toContain('keybrake_calls_total{vendor="stripe",decision="allowed"} 3\n');
      expect(text).toContain('keybrake_calls_total{vendor="stripe",decision="denied"} 1\n');
      expect(text).toContain('keybrake_denials_total{vendor="stripe",reason="KEYBRAKE_CAP_EXCEEDED"} 1\n');
      expect(text).toContain('keybrake_denials_total{vendor="we\\"ird",reason="unknown"} 1\n');
      expect(text).toContain('keybrake_spend_usd_total{vendor="stripe"} 7.5\n');
      expect(text).toContain('keybrake_credits_usd_total{vendor="stripe"} 1\n');
      expect(text).toContain('keybrake_upstream_latency_seconds_bucket{vendor="stripe",le="0.01"} 1\n');
      expect(text).toContain('keybrake_upstream_latency_seconds_bucket{vendor="stripe",le="0.025"} 2\n');
      expect(text).toContain('keybrake_upstream_latency_seconds_bucket{vendor="stripe",le="+Inf"} 3\n');
      expect(text).toContain('keybrake_upstream_latency_seconds_count{vendor="stripe"} 3\n');
      expect(text).toContain('keybrake_calls_in_flight 1\n');
    });
  });
});
