import type { ViewStore } from '@riverlog/core';
import { type ApplyContext, changes, defineView, openView } from '@riverlog/view-builder';
import { retailCatalog } from './catalog.js';
import { creatorOf } from './domain.js';

/** What one product earned its creator and its photographer. */
export interface Contribution {
  readonly kind: 'product';
  readonly id: string;
  readonly creator: string | null;
  /** Assigned to shoot it now (until the photo comes in). */
  readonly assigned: string | null;
  /** The first photo came in: that ends the product's photo assignment. */
  readonly photographed: boolean;
  /** Who took the photo, once it came in. */
  readonly photographer: string | null;
  readonly purchases: number;
  /** A point per purchase. */
  readonly creatorPoints: number;
  /** A point per purchase made after the photo. */
  readonly photographerPoints: number;
}

/** A person's score over all products. */
export interface Score {
  readonly kind: 'person';
  readonly id: string;
  /** From their latest login, null if never seen. */
  readonly name: string | null;
  readonly creatorPoints: number;
  readonly photographerPoints: number;
}

export type WinnerRow = Contribution | Score;

/** The row key of a product's contribution. */
export const contributionKey = (productId: string): string => `product:${productId}`;
/** The row key of a person's score. */
export const scoreKey = (userId: string): string => `person:${userId}`;

function blankRow(key: string): WinnerRow {
  const [kind, ...rest] = key.split(':');
  const id = rest.join(':');
  return kind === 'person'
    ? { kind: 'person', id, name: null, creatorPoints: 0, photographerPoints: 0 }
    : {
        kind: 'product',
        id,
        creator: null,
        assigned: null,
        photographed: false,
        photographer: null,
        purchases: 0,
        creatorPoints: 0,
        photographerPoints: 0,
      };
}

function contribution(row: WinnerRow): Contribution {
  if (row.kind !== 'product') throw new TypeError(`winner row for product ${row.id} is a ${row.kind} row`);
  return row;
}

function score(view: ApplyContext<WinnerRow>, userId: string): Score {
  const key = scoreKey(userId);
  const row = view.get(key) ?? blankRow(key);
  if (row.kind !== 'person') throw new TypeError(`winner row ${key} is a ${row.kind} row`);
  return row;
}

/**
 * Contributions per product and scores per person. The creator earns a point
 * per purchase; the photographer a point per purchase made after their photo.
 *
 * A purchase sits in the product's partition and credits up to three rows:
 * the product's, and the people's found on it (a multi-entity view, through
 * `changes({...})`). The view-builder writes each row guarded by its version
 * and marked with what it has applied, and folds each event id once, so a
 * redelivered or resent purchase never counts twice — no `lastEventId`
 * guard, no bare `ADD 1` — even though person rows are fed by many
 * partitions. Person rows only ever receive increments (and their own
 * partition's name), so they come out the same however partitions interleave.
 *
 * @example
 * const { creator, photographer } = await winners(store);
 */
export const winnerView = defineWinnerView(1);

/**
 * The contributions view at a given version: the same fold, built into its
 * own table (`contributions@<version>`), e.g. to rebuild it from history.
 *
 * @example
 * await rebuildView(defineWinnerView(2), { log, store });
 */
export function defineWinnerView(version: number) {
  return defineView<WinnerRow>()({
    name: 'contributions',
    version,
    catalog: retailCatalog,
    initial: blankRow,
    key: (event) => (event.type === 'user-info/login' ? scoreKey(event.data.id) : contributionKey(event.data.id)),
    apply: {
      'user-info/login': (row, { data }) => (row.kind === 'person' ? { ...row, name: data.name } : row),
      'product/create': (row, { source }) => ({ ...contribution(row), creator: creatorOf(source) }),
      'photo/assigned': (row, { data }) => {
        const product = contribution(row);
        return product.photographed ? product : { ...product, assigned: data.photographer };
      },
      'photo/unassigned': (row, { data }) => {
        const product = contribution(row);
        return product.assigned === data.photographer ? { ...product, assigned: null } : product;
      },
      'product/image': (row) => {
        const product = contribution(row);
        return product.photographed ? product : { ...product, photographed: true, photographer: product.assigned, assigned: null };
      },
      'product/purchase': (row, _event, view) => {
        const product = contribution(row);
        const credited: Record<string, WinnerRow> = {
          [view.key]: {
            ...product,
            purchases: product.purchases + 1,
            creatorPoints: product.creator === null ? product.creatorPoints : product.creatorPoints + 1,
            photographerPoints: product.photographer === null ? product.photographerPoints : product.photographerPoints + 1,
          },
        };
        if (product.creator !== null) {
          const creator = score(view, product.creator);
          credited[scoreKey(product.creator)] = { ...creator, creatorPoints: creator.creatorPoints + 1 };
        }
        if (product.photographer !== null) {
          // Read after the creator's update: one person may be both.
          const photographer = (credited[scoreKey(product.photographer)] as Score | undefined) ?? score(view, product.photographer);
          credited[scoreKey(product.photographer)] = { ...photographer, photographerPoints: photographer.photographerPoints + 1 };
        }
        return changes(credited);
      },
    },
    indexes: {
      products: (row) => (row.kind === 'product' ? [row.id] : undefined),
      people: (row) => (row.kind === 'person' ? [row.id] : undefined),
      /** Highest creator score first, then by id. */
      topCreators: (row) => (row.kind === 'person' && row.creatorPoints > 0 ? [-row.creatorPoints, row.id] : undefined),
      /** Highest photographer score first, then by id. */
      topPhotographers: (row) => (row.kind === 'person' && row.photographerPoints > 0 ? [-row.photographerPoints, row.id] : undefined),
    },
  });
}

/** The winners: the top creator and the top photographer, if anyone scored. */
export interface Winners {
  readonly creator: Score | undefined;
  readonly photographer: Score | undefined;
}

/**
 * Reads the winners from the contributions view.
 *
 * @example
 * const { creator } = await winners(store);
 * console.log(`${creator?.name} wins with ${creator?.creatorPoints} points`);
 */
export async function winners(store: ViewStore): Promise<Winners> {
  const view = openView(winnerView, store);
  const [creator] = (await view.list({ index: 'topCreators', limit: 1 })).rows;
  const [photographer] = (await view.list({ index: 'topPhotographers', limit: 1 })).rows;
  return { creator: creator?.value as Score | undefined, photographer: photographer?.value as Score | undefined };
}
