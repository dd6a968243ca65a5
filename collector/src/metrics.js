/**
 * The collector's counters and state, read by the status server (`GET /metrics`, `GET /healthz`).
 *
 * JSON shape of `snapshot()` (the names the playbook's sections 7.7 and 8 use):
 *
 *   { client_id, generated_at (ISO 8601 UTC), uptime_seconds,
 *     connection_status: "open" | "connecting" | "closed",
 *     state: "starting" | "connecting" | "pairing" | "open" | "reconnecting" | "logged_out"
 *            | "connection_replaced" | "forbidden" | "stopped",
 *     state_detail: string,                 // why, in words (what to do when logged out)
 *     batches_success, batches_failed,      // delivered; failed every attempt (then spooled)
 *     batches_rejected,                     // refused by a 4xx other than 429 (kept in spool/rejected)
 *     batches_spooled, batches_replayed,    // written to the on-disk spool; delivered from it later
 *     messages_received, messages_sent,     // group messages read from WhatsApp; delivered (2xx)
 *     messages_dropped,                     // lost: the spool was full (logged as errors)
 *     media_skipped,                        // attachments not sent (over MEDIA_MAX_BYTES, download failed)
 *     queue_depth, spool_depth, spool_bytes, spool_max_bytes, rejected_depth,
 *     reconnects, last_success_at (ISO | null),
 *     last_failure: {at, status, request_id, detail} | null,
 *     memory_rss_bytes }
 *
 * Counters only rise while the process lives; they start at 0 on each start (Prometheus and the
 * Grafana dashboard read rates and deltas, which a restart does not break).
 */

export const COUNTERS = Object.freeze([
  'batches_success', 'batches_failed', 'batches_rejected', 'batches_spooled', 'batches_replayed',
  'messages_received', 'messages_sent', 'messages_dropped', 'media_skipped', 'reconnects',
]);

/** What `connection_status` says for each `state`. */
const CONNECTION_STATUS = Object.freeze({
  starting: 'connecting', connecting: 'connecting', pairing: 'connecting', reconnecting: 'connecting',
  open: 'open', logged_out: 'closed', connection_replaced: 'closed', forbidden: 'closed', stopped: 'closed',
});

export const STATES = Object.freeze(Object.keys(CONNECTION_STATUS));

/**
 * Create the collector's metrics.
 * @param {{clientId: string, now?: () => number, gauges?: () => object}} options
 *   `gauges` returns the live values (queue_depth, spool_depth, spool_bytes, spool_max_bytes,
 *   rejected_depth) at the time of a snapshot.
 */
export function createMetrics({ clientId, now = Date.now, gauges = () => ({}) }) {
  const startedAt = now();
  const counts = Object.fromEntries(COUNTERS.map((name) => [name, 0]));
  let state = 'starting';
  let stateDetail = 'the collector is starting';
  let lastSuccessAt = null;
  let lastFailure = null;
  let gaugeSource = gauges;

  return {
    /** Add `by` (default 1) to the counter `name`; throws on a name not in COUNTERS. */
    add(name, by = 1) {
      if (!(name in counts)) throw new Error(`unknown counter ${name}`);
      counts[name] += by;
    },
    /** Set the connection state (one of STATES) and a sentence saying why. */
    setState(next, detail = '') {
      if (!(next in CONNECTION_STATUS)) throw new Error(`unknown state ${next}`);
      state = next;
      stateDetail = detail;
    },
    get state() { return state; },
    get stateDetail() { return stateDetail; },
    get connectionStatus() { return CONNECTION_STATUS[state]; },
    /** Record a delivered batch (its time is `last_success_at`). */
    succeeded() { lastSuccessAt = new Date(now()).toISOString(); },
    /** Record the last failure: `{status: number | null, request_id: string | null, detail: string}`. */
    failed({ status = null, requestId = null, detail = '' } = {}) {
      lastFailure = { at: new Date(now()).toISOString(), status, request_id: requestId, detail };
    },
    /** Replace the gauge source (the spool and batcher exist after the metrics). */
    setGauges(source) { gaugeSource = source; },
    value(name) { return counts[name]; },
    /** The JSON answer of `GET /metrics` (shape above). */
    snapshot() {
      const live = gaugeSource();
      return {
        client_id: clientId,
        generated_at: new Date(now()).toISOString(),
        uptime_seconds: Math.round((now() - startedAt) / 1000),
        connection_status: CONNECTION_STATUS[state],
        state,
        state_detail: stateDetail,
        ...counts,
        queue_depth: live.queue_depth ?? 0,
        spool_depth: live.spool_depth ?? 0,
        spool_bytes: live.spool_bytes ?? 0,
        spool_max_bytes: live.spool_max_bytes ?? 0,
        rejected_depth: live.rejected_depth ?? 0,
        last_success_at: lastSuccessAt,
        last_failure: lastFailure,
        memory_rss_bytes: process.memoryUsage.rss(),
      };
    },
  };
}

const HELP = {
  batches_success: 'Batches delivered (2xx).',
  batches_failed: 'Batches that failed every attempt and went to the spool.',
  batches_rejected: 'Batches refused with a 4xx other than 429 (kept in the spool\'s rejected folder).',
  batches_spooled: 'Batches written to the on-disk spool.',
  batches_replayed: 'Batches delivered from the spool.',
  messages_received: 'Group messages read from WhatsApp.',
  messages_sent: 'Messages delivered to the backend.',
  messages_dropped: 'Messages lost because the spool was full.',
  media_skipped: 'Attachments not sent (over MEDIA_MAX_BYTES or not downloadable).',
  reconnects: 'WhatsApp reconnection attempts.',
};

const GAUGES = {
  queue_depth: 'Messages waiting in memory for the next batch.',
  spool_depth: 'Batches waiting in the on-disk spool.',
  spool_bytes: 'Bytes the spool holds.',
  spool_max_bytes: 'The spool\'s size limit (SPOOL_MAX_BYTES).',
  rejected_depth: 'Refused batches kept for an operator.',
  uptime_seconds: 'Seconds since the collector started.',
  memory_rss_bytes: 'Resident memory of the process.',
};

/**
 * The same snapshot in Prometheus' text format 0.0.4: counters as `whatsapp_collector_<name>_total`,
 * gauges as `whatsapp_collector_<name>`, and `whatsapp_collector_connection_status{status="…"}` 1 for
 * the current status and 0 for the others (plus `whatsapp_collector_up` 1 when open).
 * Source of the format: https://prometheus.io/docs/instrumenting/exposition_formats/
 */
export function toPrometheus(snapshot) {
  const client = escapeLabel(snapshot.client_id);
  const lines = [];
  lines.push('# HELP whatsapp_collector_connection_status WhatsApp connection status (1 = current).');
  lines.push('# TYPE whatsapp_collector_connection_status gauge');
  for (const status of ['open', 'connecting', 'closed']) {
    lines.push(`whatsapp_collector_connection_status{client_id="${client}",status="${status}"} ${snapshot.connection_status === status ? 1 : 0}`);
  }
  lines.push('# HELP whatsapp_collector_up 1 when the WhatsApp connection is open.');
  lines.push('# TYPE whatsapp_collector_up gauge');
  lines.push(`whatsapp_collector_up{client_id="${client}"} ${snapshot.connection_status === 'open' ? 1 : 0}`);
  for (const [name, help] of Object.entries(HELP)) {
    lines.push(`# HELP whatsapp_collector_${name}_total ${help}`);
    lines.push(`# TYPE whatsapp_collector_${name}_total counter`);
    lines.push(`whatsapp_collector_${name}_total{client_id="${client}"} ${snapshot[name]}`);
  }
  for (const [name, help] of Object.entries(GAUGES)) {
    lines.push(`# HELP whatsapp_collector_${name} ${help}`);
    lines.push(`# TYPE whatsapp_collector_${name} gauge`);
    lines.push(`whatsapp_collector_${name}{client_id="${client}"} ${snapshot[name]}`);
  }
  return `${lines.join('\n')}\n`;
}

function escapeLabel(value) {
  return String(value).replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}
