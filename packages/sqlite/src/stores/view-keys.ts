// The one byte encoding of sortable strings, shared with the DynamoDB view store.
export { fromSortableBytes as fromSortable, sortableBytes as sortable } from '@riverlog/core/backend';

/** The smallest key above every key that starts with `prefix` (which ends with the U+0000 separator). */
export function upperBound(prefix: Buffer): Buffer {
  const bound = Buffer.from(prefix);
  bound[bound.length - 1] = 1;
  return bound;
}

/** An SQL identifier in double quotes, any `"` doubled. */
export function quoted(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}
