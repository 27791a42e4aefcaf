/** `npm run db:migrate`: creates the database if missing and applies pending migrations. */
import { loadConfig } from '../config.js';
import { databaseName } from '../db/databases.js';
import { migrate } from '../db/migrate.js';

const config = loadConfig();
const { output } = await migrate(config.databaseUrl);
console.log(output || `database '${databaseName(config.databaseUrl)}' is up to date`);
