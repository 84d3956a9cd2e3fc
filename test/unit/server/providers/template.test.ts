import { describe, expect, it } from 'vitest';
import { renderTemplate } from '../../../../server/providers/template.js';

const values = {
  connectionConfig: { subdomain: 'acme', port: 8443 },
  credentials: { username: 'ann', password: 'p@ss' },
  apiKey: 'key-1',
  accessToken: 'tok',
};

describe('renderTemplate', () => {
  it.each([
    ['https://api.github.com', 'https://api.github.com', true],
    ['https://${connectionConfig.subdomain}.zendesk.com', 'https://acme.zendesk.com', true],
    ['https://${connection_config.subdomain}.zendesk.com', 'https://acme.zendesk.com', true],
    ['Bearer ${apiKey}', 'Bearer key-1', true],
    ['Bearer ${accessToken}', 'Bearer tok', true],
    ['${credentials.username}:${credentials.password}', 'ann:p@ss', true],
    ['Basic ${base64(${credentials.username}:${credentials.password})}', `Basic ${Buffer.from('ann:p@ss').toString('base64')}`, true],
    ['Basic ${base64(${credentials.username}/token:${credentials.password})}', `Basic ${Buffer.from('ann/token:p@ss').toString('base64')}`, true],
    ['https://h:${connectionConfig.port}', 'https://h:8443', true],
    ['https://${connectionConfig.missing}.x.com', 'https://${connectionConfig.missing}.x.com', false],
    ['${base64(${credentials.nope})}', '${base64(${credentials.nope})}', false],
    ['https://${connectionConfig.missing}.x.com || https://default.x.com', 'https://default.x.com', true],
    ['https://${connectionConfig.subdomain}.x.com || https://default.x.com', 'https://acme.x.com', true],
    ['${constructor}', '${constructor}', false],
    ['unclosed ${apiKey', 'unclosed ${apiKey', true],
  ])('renders %s', (template, text, complete) => {
    expect(renderTemplate(template, values)).toEqual({ text, complete });
  });
});
