/**
 * Batch items from a file: NDJSON (one input per line), a JSON array, or CSV (a
 * header row naming the input's fields). CSV cells are text, so each is converted to
 * the type the job type's JSON Schema gives the field (integer, number, boolean,
 * object/array as JSON); an empty cell leaves the field out so its default applies.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from './exit-codes.js';

type JsonSchema = { type?: string | string[]; properties?: Record<string, JsonSchema> };

export async function readItems(file: string, inputSchema: JsonSchema | undefined): Promise<unknown[]> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${file}: ${err.code ?? err.message}`);
  });
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return csvToInputs(text, inputSchema);
  if (ext === '.json') {
    const parsed: unknown = JSON.parse(text);
    if (!Array.isArray(parsed)) throw new UsageError(`${file} must hold a JSON array of inputs`);
    return parsed;
  }
  if (ext === '.ndjson' || ext === '.jsonl') return ndjsonToInputs(text, file);
  throw new UsageError(`${file}: use a .ndjson, .jsonl, .json or .csv file`);
}

export function ndjsonToInputs(text: string, name = 'input'): unknown[] {
  const out: unknown[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    try {
      out.push(JSON.parse(line));
    } catch (err) {
      throw new UsageError(`${name}:${i + 1}: not JSON (${(err as Error).message})`);
    }
  });
  return out;
}

/** RFC 4180: quoted fields may hold commas, quotes (doubled) and line breaks. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"' && cell === '') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += ch;
  }
  if (cell !== '' || row.length > 0) rows.push([...row, cell]);
  return rows.filter((r) => r.length > 1 || r[0] !== '');
}

function convert(cell: string, schema: JsonSchema | undefined): unknown {
  const types = schema?.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  if ((types.includes('integer') || types.includes('number')) && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(cell.trim())) return Number(cell);
  if (types.includes('boolean') && /^(true|false)$/i.test(cell.trim())) return cell.trim().toLowerCase() === 'true';
  if ((types.includes('object') || types.includes('array')) && /^[[{]/.test(cell.trim())) return JSON.parse(cell);
  return cell;
}

export function csvToInputs(text: string, inputSchema: JsonSchema | undefined): unknown[] {
  const [header, ...rows] = parseCsv(text);
  if (!header) return [];
  return rows.map((r) => {
    const input: Record<string, unknown> = {};
    header.forEach((name, i) => {
      const cell = r[i] ?? '';
      if (cell !== '') input[name] = convert(cell, inputSchema?.properties?.[name]);
    });
    return input;
  });
}
