/** Request schemas of the consolidation, schedule, settings and stats routes. */
import { z } from 'zod';
import { CONSOLIDATION_STATUSES, TRIGGER_TYPES } from '../lib/names.js';

const isoDateTime = z.iso.datetime({ offset: true, error: 'an ISO 8601 date-time, e.g. 2026-01-31T00:00:00Z' });

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const scopeSchema = z
  .object({
    jobTypes: z.array(z.string().min(1)).min(1).max(100).optional(),
    batchIds: z.array(z.uuid('must be a batch id (UUID)')).min(1).max(1_000).optional(),
    from: isoDateTime.optional(),
    to: isoDateTime.optional(),
  })
  .strict()
  .refine((s) => !s.from || !s.to || Date.parse(s.from) < Date.parse(s.to), {
    message: '`from` must be before `to`',
    path: ['to'],
  });

export const createConsolidationBody = z.object({ scope: scopeSchema.optional() }).strict();

export const consolidationIdParam = z.object({
  id: z.uuid('must be a UUID, e.g. 3b241101-e2bb-4255-8caf-4136c566a962'),
});

export const listConsolidationsQuery = z
  .object({
    status: z.enum(CONSOLIDATION_STATUSES).optional(),
    trigger: z.enum(TRIGGER_TYPES).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().max(200).optional(),
  })
  .strict();

export const scheduleNameParam = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, - and _, at most 63, e.g. "nightly"'),
});

export const putScheduleBody = z
  .object({
    cron: z.string().trim().min(1).max(200),
    timezone: z.string().refine(isTimeZone, 'an IANA time zone, e.g. "Europe/Paris"').default('UTC'),
    scope: scopeSchema.optional(),
    paused: z.boolean().default(false),
  })
  .strict();

export const backfillBody = z
  .object({ start: isoDateTime, end: isoDateTime })
  .strict()
  .refine((b) => Date.parse(b.start) < Date.parse(b.end), { message: '`start` must be before `end`', path: ['end'] })
  .refine((b) => Date.parse(b.end) - Date.parse(b.start) <= 366 * 86_400_000, {
    message: 'backfill at most a year at a time',
    path: ['end'],
  });

export const patchSettingsBody = z
  .object({
    consolidationThreshold: z.int().min(1).max(1_000_000_000).nullable().optional(),
    retentionDays: z.int().min(1).max(36_500).nullable().optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, { message: 'set consolidationThreshold and/or retentionDays (null turns one off)' });

export const statsQuery = z
  .object({
    jobType: z.string().min(1).optional(),
    from: z.iso.date('a date, e.g. 2026-01-31').optional(),
    to: z.iso.date('a date, e.g. 2026-01-31').optional(),
  })
  .strict();
