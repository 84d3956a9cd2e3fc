// Shapes of Notion API objects (version 2022-06-28) shared by the Notion functions. Not a
// function itself: only files directly in actions/ and syncs/ are deployed.
// https://developers.notion.com/reference/page, https://developers.notion.com/reference/database

export interface RichText {
  plain_text: string;
}

export interface NotionObject {
  object: 'page' | 'database';
  id: string;
  url: string;
  created_time: string;
  last_edited_time: string;
  archived: boolean;
  parent: { type: 'workspace'; workspace: true } | { type: 'page_id'; page_id: string } | { type: 'database_id'; database_id: string } | { type: 'block_id'; block_id: string };
  /** Databases only. */
  title?: RichText[];
  /** Pages: exactly one property has `type: 'title'`. */
  properties?: Record<string, { type: string; title?: RichText[] }>;
}

/** A page's title lives in its one `title` property, a database's in `title`. */
export function titleOf(item: NotionObject): string {
  const richText = item.object === 'database' ? item.title : Object.values(item.properties ?? {}).find((property) => property.type === 'title')?.title;
  return (richText ?? []).map((text) => text.plain_text).join('');
}

export function parentIdOf(item: NotionObject): string | null {
  switch (item.parent.type) {
    case 'page_id':
      return item.parent.page_id;
    case 'database_id':
      return item.parent.database_id;
    case 'block_id':
      return item.parent.block_id;
    case 'workspace':
      return null;
  }
}
