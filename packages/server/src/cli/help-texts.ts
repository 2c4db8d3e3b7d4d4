/**
 * `--help` texts of the `keybrake` commands; read them with {@link helpText}.
 *
 * @example
 * ```ts
 * Object.keys(HELP); // ['main', 'serve', 'keys', …]
 * ```
 */
export const HELP = {
  main: `Usage: keybrake <command> [options]

Spending caps for AI agents that call paid APIs: a proxy that holds the real Stripe, Twilio and
Resend secrets, and vault keys with caps for the agents.

Commands:
  serve                 Run the proxy
  keys issue            Issue a vault key
  keys show <id>        Show a key's spend, caps and lifetime
  keys revoke <id>      Revoke a key and its descendants
  audit                 Spend per session and member, and recent calls

Options:
  -h, --help            Show help (also: keybrake <command> --help)
  -v, --version         Show the version

Exit codes: 0 ok, 1 error (from the server or at run time), 2 usage error.
`,
  serve: `Usage: keybrake serve [options]

Runs the Keybrake proxy. Prints "Keybrake proxy listening on <url>" once listening; logs JSON
lines to standard error; SIGTERM or SIGINT stops it gracefully (calls in flight finish, the audit
log is flushed).

Options:
  --host <host>               Interface to bind (default 127.0.0.1, loopback only; KEYBRAKE_HOST)
  --port <port>               Port; 0 picks a free one (default 8787; KEYBRAKE_PORT)
  --config <file>             JSON config file (secrets, upstreams, fx, prices, …)
  --upstream <vendor=url>     Override a vendor's base URL; repeatable
                              (e.g. --upstream stripe=http://127.0.0.1:12111)
  --fx <code=rate,…>          FX rates, USD per unit (e.g. jpy=0.0067,eur=1.08; KEYBRAKE_FX)
  --price <vendor.option=v>   A cost-model price; repeatable (e.g. twilio.smsSegmentUsd=0.0083)
  --audit-file <path>         Append the audit log to a JSON Lines file (KEYBRAKE_AUDIT_FILE)
  --redis-url <url>           Keep keys, ledger and audit in Redis (KEYBRAKE_REDIS_URL)
  --redis-prefix <prefix>     Prefix of its Redis keys (default keybrake:<mode>:, so test and
                              live replicas never share keys or spend; KEYBRAKE_REDIS_PREFIX)
  --max-body-bytes <n>        Largest request body (default 1048576)
  --upstream-timeout <d>      Timeout of vendor calls (default 60s)
  --reservation-ttl <d>       How long a call's reservation stays open before it counts as spent
                              (a replica that crashed mid-call never settles it; default 10m, at
                              least 2 × upstream timeout + 1s)
  --mode <test|live>          Prefix of issued vault keys, kb_test_ or kb_live_ (default test;
                              KEYBRAKE_MODE)
  --log-level <level>         fatal, error, warn, info, debug, trace or silent (default info;
                              KEYBRAKE_LOG_LEVEL)
  --public-metrics            Serve /metrics without the admin token
  -h, --help                  Show this help

Environment:
  KEYBRAKE_ADMIN_TOKEN        Required: the admin API's bearer token (at least 16 printable
                              ASCII characters, no spaces)
  STRIPE_SECRET_KEY           Stripe secret key
  TWILIO_ACCOUNT_SID          Twilio account, with TWILIO_AUTH_TOKEN, or with
                              TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET
  RESEND_API_KEY              Resend API key
`,
  keys: `Usage: keybrake keys <issue|show|revoke> [options]

  keys issue [options]        Issue a vault key
  keys show <id>              Show a key's spend, caps and lifetime
  keys revoke <id>            Revoke a key and its descendants

Run keybrake keys <command> --help for its options.
`,
  keysIssue: `Usage: keybrake keys issue [options]

Issues a vault key and prints it (it is shown only once).

Options:
  --vendor <name>             stripe, twilio, resend; omit for a budget-only session key
  --parent <id>               Parent key id: spend also counts against the parent's caps
  --cap <usd>                 Lifetime cap, USD (a root key needs --cap or --daily-cap)
  --daily-cap <usd>           Cap per UTC day, USD
  --max-calls <n>             Maximum number of calls
  --per-call-max <usd>        Maximum estimated cost of one call, USD
  --allow <"METHOD /path">    An allowed endpoint; repeatable (* one segment, ** any depth)
  --expires-in <duration>     Lifetime: 30m, 1h, 7d (default 1h; a child: its parent's)
  --expires-with-parent       A child: cut --expires-in to the parent's expiry instead of refusing
                              (up to a minute over is cut anyway)
  --label <text>              The agent run or member, e.g. billing-team/sess_42/billing
  --fallback-estimate <usd>   USD reserved for a call whose cost cannot be determined
  --metadata <json>           Free JSON object stored with the key
{{client}}`,
  keysShow: `Usage: keybrake keys show <id> [options]

Shows a key's spend, reservations, caps (its own and its ancestors'), calls and lifetime.

Options:
{{client}}`,
  keysRevoke: `Usage: keybrake keys revoke <id> [options]

Revokes a key and every key under it; effective on their next call. <id> is the key id (kbk_…)
or the vault key itself (kb_…), say a leaked one.

Options:
{{client}}`,
  audit: `Usage: keybrake audit [options]

Shows spend against caps per session and per member, then the most recent calls.

Options:
  --root <id>                 Only this session (root key) and its members
  --key <id>                  Only calls of this key
  --label <text>              Only calls of keys with this label, and of the keys under them
  --vendor <name>             Only calls to this vendor
  --decision <allowed|denied> Only allowed or only denied calls
  --since <time>              From this time on (ISO 8601, UTC unless it has an offset, or epoch ms)
  --limit <n>                 Recent calls to list (default 20, at most 1000)
{{client}}`,
};

const CLIENT_OPTIONS = `  --url <url>                 The proxy (default KEYBRAKE_URL or http://127.0.0.1:8787)
  --json                      Print the server's JSON answer
  -h, --help                  Show this help

Environment:
  KEYBRAKE_ADMIN_TOKEN        Required: the admin token of the proxy
`;

/**
 * The help text of a command.
 *
 * @example
 * ```ts
 * io.stdout(helpText('serve'));
 * ```
 */
export function helpText(command: keyof typeof HELP): string {
  return HELP[command].replace('{{client}}', CLIENT_OPTIONS);
}
