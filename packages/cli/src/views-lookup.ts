import type { AnyView } from '@riverlog/view-builder';
import type { Context } from './config.js';
import { UsageError } from './errors.js';

/**
 * The view a name picks among the views modules' views: `products@2` (a
 * table) exactly, or `products`, the highest version defined.
 */
export async function findView(ctx: Context, name: string): Promise<AnyView> {
  const views = await ctx.views();
  if (views.length === 0)
    throw new UsageError(
      `No views module given to find view ${JSON.stringify(name)} in: pass --views <module> or name "views" in riverlog.config.json.`,
    );
  const exact = views.find((view) => view.table === name);
  if (exact) return exact;
  const versions = views.filter((view) => view.name === name).sort((a, b) => b.version - a.version);
  if (versions[0]) return versions[0];
  throw new UsageError(`No view ${JSON.stringify(name)} in the views modules; they define ${views.map((v) => v.table).join(', ')}.`);
}
