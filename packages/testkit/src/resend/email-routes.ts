import { randomUUID } from 'node:crypto';
import type { Route } from '../http/create-router.js';
import { FakeResponseError } from '../http/fake-response-error.js';
import { type ResendErrorBody, resendError } from './resend-error.js';

/**
 * An email the fake Resend accepted.
 *
 * @example
 * ```ts
 * const [email] = fake.emails();
 * expect(email?.recipients).toBe(3);
 * ```
 */
export interface FakeResendEmail {
  /** Email id (a UUID). */
  id: string;
  /** Sender as sent; `''` when a template's is used. */
  from: string;
  /** `to` addresses. */
  to: string[];
  /** `cc` addresses. */
  cc: string[];
  /** `bcc` addresses. */
  bcc: string[];
  /** Subject; `''` when a template's is used. */
  subject: string;
  /** Id of the template it was sent with, or `null`. */
  template: string | null;
  /** Recipient count: to + cc + bcc. */
  recipients: number;
  /** Whether it came through `POST /emails/batch`. */
  batch: boolean;
  /** ISO timestamp of acceptance. */
  createdAt: string;
}

/**
 * What a fake Resend route handler gets.
 *
 * @example
 * ```ts
 * const handler: ResendRouteHandler = ({ emails }) => ({ count: emails.size });
 * ```
 */
export interface ResendRouteContext {
  /** Path parameters. */
  params: Record<string, string>;
  /** Parsed JSON body. */
  json: unknown;
  /** Request headers, names in lower case (`x-batch-validation`). */
  headers: Record<string, string>;
  /** Accepted emails by id, each with its Resend JSON. */
  emails: Map<string, { info: FakeResendEmail; json: Record<string, unknown> }>;
  /** `last_event` reported by `GET /emails/:id`. */
  lastEvent: string;
}

/**
 * A fake Resend route handler: returns the JSON to answer with (status 200), or throws a Resend error.
 *
 * @example
 * ```ts
 * const handler: ResendRouteHandler = () => ({ data: [] });
 * ```
 */
export type ResendRouteHandler = (context: ResendRouteContext) => unknown;

const maxBatch = 100;
const maxRecipients = 50;
const address = /^(?:[^<>]*<\s*[^\s@<>]+@[^\s@<>]+\s*>|[^\s@<>]+@[^\s@<>]+)$/;
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function list(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value;
  throw resendError(422, 'validation_error', `The \`${field}\` field must be a \`string\` or an \`array\` of strings.`);
}

function text(input: Record<string, unknown>, field: string): string | null {
  const value = input[field];
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  throw resendError(422, 'validation_error', `The \`${field}\` field must be a \`string\`.`);
}

function accept(input: unknown, context: ResendRouteContext, batch: boolean): string {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw resendError(422, 'validation_error', 'The email must be a JSON object.');
  }
  const email = input as Record<string, unknown>;
  const template = templateId(email.template);
  // With a template, `from` and `subject` default to the template's own (resend-node types them optional).
  for (const field of template === null ? ['from', 'to', 'subject'] : ['to']) {
    if (email[field] === undefined || email[field] === null || email[field] === '') {
      throw resendError(422, 'missing_required_field', `Missing \`${field}\` field.`);
    }
  }
  const from = text(email, 'from') ?? '';
  if ((template === null || from !== '') && !address.test(from.trim())) {
    throw resendError(
      422,
      'validation_error',
      'Invalid `from` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.',
    );
  }
  const to = list(email.to, 'to');
  const cc = list(email.cc, 'cc');
  const bcc = list(email.bcc, 'bcc');
  const replyTo = list(email.reply_to ?? email.replyTo, 'reply_to');
  if (to.length > maxRecipients) {
    throw resendError(422, 'validation_error', `Too many recipients in \`to\`. The maximum is ${maxRecipients}.`);
  }
  const id = randomUUID();
  const createdAt = new Date().toISOString();
  const subject = text(email, 'subject') ?? '';
  context.emails.set(id, {
    info: {
      id,
      from,
      to,
      cc,
      bcc,
      subject,
      template,
      recipients: to.length + cc.length + bcc.length,
      batch,
      createdAt,
    },
    json: {
      object: 'email',
      id,
      to,
      from,
      created_at: createdAt.replace('Z', '+00:00'),
      subject,
      html: text(email, 'html'),
      text: text(email, 'text'),
      bcc: bcc.length > 0 ? bcc : null,
      cc: cc.length > 0 ? cc : null,
      reply_to: replyTo.length > 0 ? replyTo : null,
      last_event: context.lastEvent,
      scheduled_at: text(email, 'scheduled_at') ?? text(email, 'scheduledAt'),
    },
  });
  return id;
}

/** The `id` of an email's `template`, `null` without one; a 422 for a template that is not `{ id: string }`. */
function templateId(template: unknown): string | null {
  if (template === undefined || template === null) return null;
  const id = typeof template === 'object' ? (template as { id?: unknown }).id : undefined;
  if (typeof id === 'string' && id !== '') return id;
  throw resendError(422, 'validation_error', 'The `template` field must be an object with an `id`.');
}

function sendBatch(context: ResendRouteContext): {
  data: { id: string }[];
  errors?: { index: number; message: string }[];
} {
  const { json } = context;
  if (!Array.isArray(json)) {
    throw resendError(422, 'validation_error', 'The batch must be an array of emails.');
  }
  if (json.length === 0 || json.length > maxBatch) {
    throw resendError(
      422,
      'validation_error',
      `The batch must contain between 1 and ${maxBatch} emails; it contains ${json.length}.`,
    );
  }
  // Permissive (`x-batch-validation: permissive`): send the valid emails, report the others by index.
  if (context.headers['x-batch-validation'] === 'permissive') {
    const data: { id: string }[] = [];
    const errors: { index: number; message: string }[] = [];
    json.forEach((email, index) => {
      try {
        data.push({ id: accept(email, context, true) });
      } catch (error) {
        if (!(error instanceof FakeResponseError)) throw error;
        errors.push({ index, message: (error.response.body as ResendErrorBody).message });
      }
    });
    return { data, errors };
  }
  // Strict, the default: validate every email before accepting any; a batch is all or nothing.
  const staged = new Map(context.emails);
  const ids = json.map((email) => accept(email, { ...context, emails: staged }, true));
  for (const id of ids) {
    const entry = staged.get(id);
    if (entry) context.emails.set(id, entry);
  }
  return { data: ids.map((id) => ({ id })) };
}

function getEmail({ params, emails }: ResendRouteContext): Record<string, unknown> {
  const id = params.id ?? '';
  if (!uuid.test(id)) throw resendError(422, 'invalid_parameter', 'The `id` must be a valid UUID.');
  const found = emails.get(id);
  if (!found) throw resendError(404, 'not_found', 'Email not found');
  return found.json;
}

/**
 * Fake Resend email routes: send one (with a template or not), send a batch (at most 100; all or nothing,
 * or only the valid emails with `x-batch-validation: permissive`), and retrieve one.
 *
 * @example
 * ```ts
 * const router = createRouter([...emailRoutes]);
 * ```
 */
export const emailRoutes: readonly Route<ResendRouteHandler>[] = [
  { method: 'POST', pattern: '/emails', handler: (context) => ({ id: accept(context.json, context, false) }) },
  { method: 'POST', pattern: '/emails/batch', handler: sendBatch },
  { method: 'GET', pattern: '/emails/:id', handler: getEmail },
];
