/** One vendor call as the metrics see it. */
export interface CallMetric {
  /** The vendor, or `unknown` when the presented key could not be identified. */
  vendor: string;
  decision: 'allowed' | 'denied';
  /** The Keybrake error code of a denial (or of an allowed call whose upstream failed). */
  reason?: string | undefined;
  /** Settled cost, micro-dollars; negative for a credit. */
  actualMicros: number;
  /** Seconds spent answering an allowed call (Keybrake's checks and the vendor's round trip). */
  seconds?: number | undefined;
}

/** Prometheus metrics of a proxy; see {@link createProxyMetrics}. */
export interface ProxyMetrics {
  /** Counts one vendor call. */
  recordCall(call: CallMetric): void;
  /** Tracks calls in progress (+1 when one starts, -1 when it ends). */
  addInFlight(delta: number): void;
  /** The Prometheus text exposition (format 0.0.4). */
  render(): string;
}

/**
 * Upper bounds of the latency histogram's buckets, seconds.
 *
 * @example
 * ```ts
 * LATENCY_BUCKETS.at(-1); // 60
 * ```
 */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

const escapeLabel = (value: string) => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labels = (entries: Record<string, string>) =>
  `{${Object.entries(entries)
    .map(([name, value]) => `${name}="${escapeLabel(value)}"`)
    .join(',')}}`;
const usd = (micros: number) => String(micros / 1_000_000);

interface Histogram {
  buckets: number[];
  count: number;
  sum: number;
}

/**
 * Creates the proxy's in-process Prometheus metrics, rendered by `GET /metrics`:
 *
 * - `keybrake_calls_total{vendor,decision}` — vendor calls, allowed or denied;
 * - `keybrake_denials_total{vendor,reason}` — denials by Keybrake error code;
 * - `keybrake_spend_usd_total{vendor}` — settled spend, USD; `keybrake_credits_usd_total{vendor}` — credits (refunds with `creditRefunds`);
 * - `keybrake_upstream_latency_seconds{vendor}` — histogram of the time to answer allowed calls;
 * - `keybrake_calls_in_flight` — calls being answered.
 *
 * @returns The metrics.
 * @example
 * ```ts
 * const metrics = createProxyMetrics();
 * metrics.recordCall({ vendor: 'stripe', decision: 'allowed', actualMicros: 5_000_000, seconds: 0.12 });
 * metrics.render(); // '# TYPE keybrake_calls_total counter\nkeybrake_calls_total{vendor="stripe",decision="allowed"} 1\n…'
 * ```
 */
export function createProxyMetrics(): ProxyMetrics {
  const calls = new Map<string, { vendor: string; decision: string; count: number }>();
  const denials = new Map<string, { vendor: string; reason: string; count: number }>();
  const spend = new Map<string, number>();
  const credits = new Map<string, number>();
  const latency = new Map<string, Histogram>();
  let inFlight = 0;

  return {
    recordCall(call) {
      const callKey = `${call.vendor}\u0000${call.decision}`;
      const counted = calls.get(callKey) ?? { vendor: call.vendor, decision: call.decision, count: 0 };
      counted.count += 1;
      calls.set(callKey, counted);
      if (call.decision === 'denied') {
        const reason = call.reason ?? 'unknown';
        const denialKey = `${call.vendor}\u0000${reason}`;
        const denial = denials.get(denialKey) ?? { vendor: call.vendor, reason, count: 0 };
        denial.count += 1;
        denials.set(denialKey, denial);
      }
      if (call.actualMicros > 0) spend.set(call.vendor, (spend.get(call.vendor) ?? 0) + call.actualMicros);
      if (call.actualMicros < 0) credits.set(call.vendor, (credits.get(call.vendor) ?? 0) - call.actualMicros);
      if (call.decision === 'allowed' && call.seconds !== undefined) {
        const histogram = latency.get(call.vendor) ?? { buckets: LATENCY_BUCKETS.map(() => 0), count: 0, sum: 0 };
        LATENCY_BUCKETS.forEach((bound, index) => {
          if (call.seconds !== undefined && call.seconds <= bound)
            histogram.buckets[index] = (histogram.buckets[index] ?? 0) + 1;
        });
        histogram.count += 1;
        histogram.sum += call.seconds;
        latency.set(call.vendor, histogram);
      }
    },
    addInFlight(delta) {
      inFlight += delta;
    },
    render() {
      const lines: string[] = [];
      lines.push('# HELP keybrake_calls_total Vendor calls answered by the proxy, by vendor and decision.');
      lines.push('# TYPE keybrake_calls_total counter');
      for (const { vendor, decision, count } of calls.values()) {
        lines.push(`keybrake_calls_total${labels({ vendor, decision })} ${count}`);
      }
      lines.push('# HELP keybrake_denials_total Denied vendor calls, by vendor and Keybrake error code.');
      lines.push('# TYPE keybrake_denials_total counter');
      for (const { vendor, reason, count } of denials.values()) {
        lines.push(`keybrake_denials_total${labels({ vendor, reason })} ${count}`);
      }
      lines.push(
        '# HELP keybrake_spend_usd_total Spend of allowed calls as answered (a price reported later counts at its estimate), USD, by vendor.',
      );
      lines.push('# TYPE keybrake_spend_usd_total counter');
      for (const [vendor, micros] of spend) lines.push(`keybrake_spend_usd_total${labels({ vendor })} ${usd(micros)}`);
      lines.push('# HELP keybrake_credits_usd_total Credits given back by settled refunds, USD, by vendor.');
      lines.push('# TYPE keybrake_credits_usd_total counter');
      for (const [vendor, micros] of credits) {
        lines.push(`keybrake_credits_usd_total${labels({ vendor })} ${usd(micros)}`);
      }
      lines.push(
        '# HELP keybrake_upstream_latency_seconds Time to answer an allowed call (checks and vendor round trip).',
      );
      lines.push('# TYPE keybrake_upstream_latency_seconds histogram');
      for (const [vendor, histogram] of latency) {
        LATENCY_BUCKETS.forEach((bound, index) => {
          lines.push(
            `keybrake_upstream_latency_seconds_bucket${labels({ vendor, le: String(bound) })} ${histogram.buckets[index] ?? 0}`,
          );
        });
        lines.push(`keybrake_upstream_latency_seconds_bucket${labels({ vendor, le: '+Inf' })} ${histogram.count}`);
        lines.push(`keybrake_upstream_latency_seconds_sum${labels({ vendor })} ${histogram.sum}`);
        lines.push(`keybrake_upstream_latency_seconds_count${labels({ vendor })} ${histogram.count}`);
      }
      lines.push('# HELP keybrake_calls_in_flight Vendor calls being answered.');
      lines.push('# TYPE keybrake_calls_in_flight gauge');
      lines.push(`keybrake_calls_in_flight ${inFlight}`);
      return `${lines.join('\n')}\n`;
    },
  };
}
