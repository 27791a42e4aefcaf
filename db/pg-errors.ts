import postgres from 'postgres';

/** SQLSTATE codes we turn into domain errors. */
export const SqlState = {
  UniqueViolation: '23505',
  ForeignKeyViolation: '23503',
  CheckViolation: '23514',
  InvalidTextRepresentation: '22P02',
} as const;

export function hasSqlState(err: unknown, code: string): boolean {
  return err instanceof postgres.PostgresError && err.code === code;
}
