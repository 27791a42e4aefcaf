/**
 * One-shot set-up for a deployment (docker-compose's `migrate` service): applies the
 * migrations and registers the search attributes on the Temporal server named by
 * TEMPORAL_ADDRESS. Idempotent, so running it on every deploy is safe.
 */
import { loadConfig, temporalAddressOf } from '../config.js';
import { databaseName } from '../db/databases.js';
import { migrate } from '../db/migrate.js';
import { ensureSearchAttributes } from '../temporal/search-attributes.js';

const config = loadConfig();
const { output } = await migrate(config.databaseUrl);
console.log(output || `database '${databaseName(config.databaseUrl)}' is up to date`);
const added = await ensureSearchAttributes(temporalAddressOf(config), config.temporalNamespace);
console.log(added.length ? `search attributes added: ${added.join(', ')}` : 'search attributes present');
