// Searches the pages and databases shared with the integration, by title.
// Notion API: POST /v1/search — https://developers.notion.com/reference/post-search
import * as z from 'zod';
import { createAction } from 'patchbay';
import { type NotionObject, titleOf } from '../lib/notion.js';

interface SearchResponse {
  results: NotionObject[];
  next_cursor: string | null;
  has_more: boolean;
}

export default createAction({
  description: 'Search Notion pages and databases by title',
  input: z.object({
    query: z.string().default(''),
    type: z.enum(['page', 'database']).optional(),
    pageSize: z.number().int().min(1).max(100).default(20),
    cursor: z.string().optional(),
  }),
  output: z.object({
    results: z.array(
      z.object({
        id: z.string(),
        type: z.enum(['page', 'database']),
        title: z.string(),
        url: z.string(),
        lastEditedTime: z.string(),
      }),
    ),
    nextCursor: z.string().nullable(),
  }),
  exec: async (nango, input) => {
    const response = await nango.post<SearchResponse>({
      endpoint: '/v1/search',
      // The response shapes below are those of this API version.
      headers: { 'Notion-Version': '2022-06-28' },
      data: {
        query: input.query,
        page_size: input.pageSize,
        sort: { direction: 'descending', timestamp: 'last_edited_time' },
        ...(input.type !== undefined ? { filter: { property: 'object', value: input.type } } : {}),
        ...(input.cursor !== undefined ? { start_cursor: input.cursor } : {}),
      },
    });
    return {
      results: response.data.results.map((item) => ({
        id: item.id,
        type: item.object,
        title: titleOf(item),
        url: item.url,
        lastEditedTime: item.last_edited_time,
      })),
      nextCursor: response.data.has_more ? response.data.next_cursor : null,
    };
  },
});
