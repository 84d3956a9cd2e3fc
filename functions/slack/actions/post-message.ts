// Posts a message to a channel, or as a reply in a thread.
// Slack Web API: chat.postMessage — https://api.slack.com/methods/chat.postMessage
import * as z from 'zod';
import { createAction } from 'patchbay';

type PostMessageResponse = { ok: true; channel: string; ts: string } | { ok: false; error: string };

export default createAction({
  description: 'Post a message to a Slack channel',
  input: z.object({
    channel: z.string().min(1).describe('Channel id (C0123…) or name'),
    text: z.string().min(1),
    threadTs: z.string().optional().describe('ts of the parent message, to reply in its thread'),
  }),
  output: z.object({ channel: z.string(), ts: z.string() }),
  scopes: ['chat:write'],
  exec: async (nango, input) => {
    const response = await nango.post<PostMessageResponse>({
      endpoint: '/chat.postMessage',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      data: { channel: input.channel, text: input.text, ...(input.threadTs !== undefined ? { thread_ts: input.threadTs } : {}) },
    });
    // Slack answers 200 to failed calls too, with `ok: false` and an error code such as
    // `channel_not_found` or `not_in_channel` (https://api.slack.com/web#evaluating_responses).
    if (!response.data.ok) {
      throw new nango.ActionError({ message: `Slack did not post the message: ${response.data.error}`, error: response.data.error });
    }
    return { channel: response.data.channel, ts: response.data.ts };
  },
});
