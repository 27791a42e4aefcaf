import { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { SearchAttributes } from '../lib/names.js';

/** Registers any of our search attributes the namespace lacks (idempotent). */
export async function ensureSearchAttributes(address: string, namespace: string): Promise<string[]> {
  const conn = await Connection.connect({ address });
  try {
    const existing = await conn.operatorService.listSearchAttributes({ namespace });
    const known = new Set([
      ...Object.keys(existing.customAttributes ?? {}),
      ...Object.keys(existing.systemAttributes ?? {}),
    ]);
    const missing = Object.values(SearchAttributes).filter((k) => !known.has(k.name));
    if (missing.length === 0) return [];
    const searchAttributes: Record<string, proto.temporal.api.enums.v1.IndexedValueType> = {};
    for (const k of missing) searchAttributes[k.name] = proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
    await conn.operatorService.addSearchAttributes({ namespace, searchAttributes });
    return missing.map((k) => k.name);
  } finally {
    await conn.close();
  }
}
