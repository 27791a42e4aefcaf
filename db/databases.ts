/** Whole databases: create (optionally from a template) and drop. */
import postgres from 'postgres';

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

export function withDatabaseName(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(name)}`;
  return u.toString();
}

/** A connection to the server's maintenance database, to act on others. */
async function withAdmin<T>(url: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(withDatabaseName(url, 'postgres'), { max: 1, onnotice: () => {} });
  try {
    return await fn(sql);
  } finally {
    await sql.end();
  }
}

/** Creates the database named in `url` when it does not exist yet; true if it did not. */
export async function ensureDatabase(url: string): Promise<boolean> {
  const name = databaseName(url);
  return withAdmin(url, async (sql) => {
    const [row] = await sql<{ exists: boolean }[]>`
      select exists (select 1 from pg_database where datname = ${name}) as exists
    `;
    if (row?.exists) return false;
    try {
      await sql`create database ${sql(name)}`;
    } catch (err) {
      // Another process created it between our check and our create.
      if (!(err instanceof postgres.PostgresError && err.code === '42P04')) throw err;
    }
    return true;
  });
}

export async function createDatabaseFromTemplate(url: string, template: string): Promise<void> {
  await withAdmin(url, (sql) => sql`create database ${sql(databaseName(url))} template ${sql(template)}`);
}

export async function dropDatabase(url: string): Promise<void> {
  await withAdmin(url, (sql) => sql`drop database if exists ${sql(databaseName(url))} with (force)`);
}
