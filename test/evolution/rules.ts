// The evolution rules of docs/evolution.md, each as a change a producer makes, with the catalogs before
// and after it, the views readers build on each, and the pure fold that says what their rows must be.
import { defineCatalog, defineEvent, optional, pastVersion, strict, t } from '@riverlog/core';
import { type AnyView, defineView } from '@riverlog/view-builder';

/** Which catalog a producer or reader runs. */
export type Deployed = 'v1' | 'v2';

/** One event a producer emitted: what it meant, on which catalog, and where it landed. */
export interface Produced {
  readonly id: string;
  readonly subject: string;
  readonly partition: string;
  readonly offset: string;
  readonly type: string;
  readonly by: Deployed;
  /** The payload the producer passed. */
  readonly data: Readonly<Record<string, unknown>>;
}

/** One event to emit: its type and payload on the producer's catalog. */
export interface Emit {
  readonly type: string;
  readonly data: Record<string, unknown>;
}

/** What a reader on a catalog makes of a produced event: the payload its handler gets, or `unreadable`. */
export type Reading = { readonly data: unknown } | 'unreadable';

/**
 * One evolution rule: the catalog before (`v1`) and after (`v2`), what a
 * producer on each emits, and what readers on each read and fold.
 */
export interface Rule {
  readonly name: string;
  readonly v1: ReturnType<typeof defineCatalog>;
  readonly v2: ReturnType<typeof defineCatalog>;
  /** Whether a reader still on v1 stops at what a producer on v2 writes. */
  readonly stopsOldReaders: boolean;
  /** The `step`-th event of `subject`, as a producer on `by` writes it. */
  emit(by: Deployed, subject: string, step: number): Emit;
  /** What a reader on `on` is handed for `event`. */
  read(on: Deployed, event: Produced): Reading;
  /** A view deployed first on v1 and redeployed on v2: same name, version and rows; only the catalog changes. */
  readonly shared: { readonly v1: AnyView; readonly v2: AnyView };
  /** A view that needs v2 (it folds what v2 added): deployed on v2 only. */
  readonly added: AnyView;
  /** The pure fold of the shared view over events in log order. */
  foldShared(events: readonly Produced[]): Record<string, unknown>;
  /** The pure fold of the added view. */
  foldAdded(events: readonly Produced[]): Record<string, unknown>;
}

function groupBySubject(events: readonly Produced[]): Map<string, Produced[]> {
  const by = new Map<string, Produced[]>();
  for (const event of events) {
    const list = by.get(event.subject) ?? [];
    list.push(event);
    by.set(event.subject, list);
  }
  return by;
}

// ─── Rule 1: add an optional field (same version) ─────────────────────────────

const order1 = defineEvent('order/place', { data: { id: t.string, sku: t.string, qty: t.number } });
const order2 = defineEvent('order/place', { data: { id: t.string, sku: t.string, qty: t.number, note: optional(t.string) } });
const orderCatalogV1 = defineCatalog([order1]);
const orderCatalogV2 = defineCatalog([order2]);

interface CustomerOrders {
  orders: number;
  qty: number;
  skus: string[];
}

const customerOrders = {
  name: 'customer-orders',
  version: 1,
  initial: { orders: 0, qty: 0, skus: [] } as CustomerOrders,
} as const;

/** Rule 1: `order/place` gains an optional `note`, same version. */
export const addOptionalField: Rule = {
  name: 'an added optional field',
  v1: orderCatalogV1,
  v2: orderCatalogV2,
  stopsOldReaders: false,
  emit(by, subject, step) {
    const data: Record<string, unknown> = { id: `${subject}-o${step}`, sku: `sku-${step % 3}`, qty: step + 1 };
    // A producer on v2 writes the new field on most events, and leaves it out on some (it is optional).
    if (by === 'v2' && step % 3 !== 2) data.note = `gift wrap ${subject}/${step}`;
    return { type: 'order/place', data };
  },
  read(on, event) {
    const { note, ...known } = event.data;
    // A v1 reader drops the field it does not declare; a v2 reader reads it where it was written.
    return { data: on === 'v1' || note === undefined ? known : event.data };
  },
  shared: {
    v1: defineView({
      ...customerOrders,
      catalog: orderCatalogV1,
      apply: {
        'order/place': (row, { data }) => ({ orders: row.orders + 1, qty: row.qty + data.qty, skus: [...row.skus, data.sku] }),
      },
    }),
    v2: defineView({
      ...customerOrders,
      catalog: orderCatalogV2,
      apply: {
        'order/place': (row, { data }) => ({ orders: row.orders + 1, qty: row.qty + data.qty, skus: [...row.skus, data.sku] }),
      },
    }),
  },
  added: defineView({
    name: 'customer-notes',
    version: 1,
    catalog: orderCatalogV2,
    initial: { notes: [] as string[] },
    // Orders without a note leave the row as it is (absent, for a customer who never wrote one).
    apply: { 'order/place': (row, { data }) => (data.note === undefined ? row : { notes: [...row.notes, data.note] }) },
  }),
  foldShared(events) {
    const rows: Record<string, unknown> = {};
    for (const [subject, list] of groupBySubject(events)) {
      rows[subject] = {
        orders: list.length,
        qty: list.reduce((sum, e) => sum + (e.data.qty as number), 0),
        skus: list.map((e) => e.data.sku),
      };
    }
    return rows;
  },
  foldAdded(events) {
    const rows: Record<string, unknown> = {};
    for (const [subject, list] of groupBySubject(events)) {
      const notes = list.map((e) => e.data.note).filter((n) => n !== undefined);
      if (notes.length > 0) rows[subject] = { notes };
    }
    return rows;
  },
};

// ─── Rule 2: a new version with an upcaster ──────────────────────────────────

const price = defineEvent('product/price', { data: { id: t.string, cents: t.number } });
const product1 = defineEvent('product/create', { data: { id: t.string, title: t.string } });
const product2 = defineEvent('product/create', {
  version: 2,
  data: { id: t.string, name: t.string, brand: t.string },
  history: [pastVersion(1, strict({ id: t.string, title: t.string }), (d) => ({ id: d.id, name: d.title, brand: 'unknown' }))],
});
const productCatalogV1 = defineCatalog([product1, price]);
const productCatalogV2 = defineCatalog([product2, price]);

interface ProductName {
  name: string;
  cents: number;
  events: number;
}
const productNames = { name: 'product-names', version: 1, initial: { name: '', cents: 0, events: 0 } as ProductName } as const;

/** Rule 2: `product/create` version 2 renames `title` to `name` and adds a required `brand`; version 1 is upcast. */
export const newVersionWithUpcaster: Rule = {
  name: 'a new version with an upcaster',
  v1: productCatalogV1,
  v2: productCatalogV2,
  stopsOldReaders: true,
  emit(by, subject, step) {
    // Creates and prices alternate: a v1 reader stopped at a v2 create must not fold the v1 prices after it.
    if (step % 2 === 1) return { type: 'product/price', data: { id: subject, cents: 100 * step + subject.length } };
    return by === 'v1'
      ? { type: 'product/create', data: { id: subject, title: `${subject} title ${step}` } }
      : { type: 'product/create', data: { id: subject, name: `${subject} name ${step}`, brand: `brand-${step}` } };
  },
  read(on, event) {
    if (event.type === 'product/price') return { data: event.data };
    if (event.by === 'v2') return on === 'v1' ? 'unreadable' : { data: event.data };
    return on === 'v1' ? { data: event.data } : { data: { id: event.data.id, name: event.data.title, brand: 'unknown' } };
  },
  shared: {
    v1: defineView({
      ...productNames,
      catalog: productCatalogV1,
      apply: {
        'product/create': (row, { data }) => ({ ...row, name: data.title, events: row.events + 1 }),
        'product/price': (row, { data }) => ({ ...row, cents: data.cents, events: row.events + 1 }),
      },
    }),
    v2: defineView({
      ...productNames,
      catalog: productCatalogV2,
      apply: {
        'product/create': (row, { data }) => ({ ...row, name: data.name, events: row.events + 1 }),
        'product/price': (row, { data }) => ({ ...row, cents: data.cents, events: row.events + 1 }),
      },
    }),
  },
  added: defineView({
    name: 'product-brands',
    version: 1,
    catalog: productCatalogV2,
    initial: { name: '', brand: '' },
    apply: { 'product/create': (_row, { data }) => ({ name: data.name, brand: data.brand }) },
  }),
  foldShared(events) {
    const rows: Record<string, unknown> = {};
    for (const [subject, list] of groupBySubject(events)) {
      const row: ProductName = { name: '', cents: 0, events: 0 };
      for (const e of list) {
        if (e.type === 'product/price') row.cents = e.data.cents as number;
        else row.name = (e.data.name ?? e.data.title) as string;
        row.events++;
      }
      rows[subject] = row;
    }
    return rows;
  },
  foldAdded(events) {
    const rows: Record<string, unknown> = {};
    for (const e of events) {
      if (e.type !== 'product/create') continue;
      rows[e.subject] = { name: e.data.name ?? e.data.title, brand: e.data.brand ?? 'unknown' };
    }
    return rows;
  },
};

// ─── Rule 3: rename a type ───────────────────────────────────────────────────

const stockBefore = defineEvent('stock/adjust', { data: { sku: t.string, delta: t.number } });
const stockAfter = defineEvent('stock/adjusted', { data: { sku: t.string, delta: t.number }, renamedFrom: ['stock/adjust'] });

/** Rule 3: `stock/adjust` becomes `stock/adjusted`; events stored under the old name are read as the new type. */
export const rename = {
  v1: defineCatalog([stockBefore]),
  v2: defineCatalog([stockAfter]),
} as const;
