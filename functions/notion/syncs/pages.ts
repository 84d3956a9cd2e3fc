// Keeps the pages shared with the integration. Notion's search sorts by last edit, newest first,
// so an incremental run stops at the first page older than the previous run's newest edit.
// Notion API: POST /v1/search — https://developers.notion.com/reference/post-search
import * as z from 'zod';
import { createSync } from 'patchbay';
import { type NotionObject, parentIdOf, titleOf } from '../lib/notion.js';

const NotionPage = z.object({
  id: z.string(),
  title: z.string(),
  url: z.string(),
  parentType: z.string(),
  parentId: z.string().nullable(),
  createdTime: z.string(),
  lastEditedTime: z.string(),
  archived: z.boolean(),
});

export default createSync({
  description: 'Pages shared with the Notion integration',
  frequency: 'every 30 minutes',
  models: { NotionPage },
  checkpoint: z.object({ lastEditedTime: z.string() }),
  exec: async (nango) => {
    const checkpoint = await nango.getCheckpoint();
    let newest = checkpoint?.lastEditedTime ?? '';

    const pages = nango.paginate<NotionObject>({
      endpoint: '/v1/search',
      method: 'POST',
      headers: { 'Notion-Version': '2022-06-28' },
      data: { filter: { property: 'object', value: 'page' }, sort: { direction: 'descending', timestamp: 'last_edited_time' } },
      paginate: { limit: 100 },
    });
    for await (const page of pages) {
      // Notion's timestamps have minute precision: pages edited in the checkpoint's minute are
      // fetched again (saving is idempotent) rather than missed.
      const fresh = checkpoint === null ? page : page.filter((item) => item.last_edited_time >= checkpoint.lastEditedTime);
      if (fresh.length > 0) await nango.batchSave(fresh.map(toRecord), 'NotionPage');
      for (const item of fresh) if (item.last_edited_time > newest) newest = item.last_edited_time;
      if (fresh.length < page.length) break;
    }
    if (newest !== '') await nango.saveCheckpoint({ lastEditedTime: newest });
  },
});

function toRecord(item: NotionObject): z.infer<typeof NotionPage> {
  return {
    id: item.id,
    title: titleOf(item),
    url: item.url,
    parentType: item.parent.type,
    parentId: parentIdOf(item),
    createdTime: item.created_time,
    lastEditedTime: item.last_edited_time,
    archived: item.archived,
  };
}
