/**
 * RFC 4180 output: a field holding a comma, a double quote, CR or LF is quoted, and
 * its double quotes doubled; rows end with CRLF. Small enough to own and test rather
 * than add a dependency. Values are written as they are (no spreadsheet-formula
 * escaping, which would change the data).
 */
export type CsvValue = string | number | boolean | null | undefined;

export function csvField(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvRow(values: readonly CsvValue[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}
