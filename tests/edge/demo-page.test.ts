import { describe, expect, it } from 'vitest';
import { createEdgeApp } from '../../edge/app';
import type { EdgeBindings } from '../../edge/config';

const REGIONS = JSON.stringify([{ id: 'eu-west', url: 'http://127.0.0.1:1', lat: 53.3, lon: -6.3 }]);

function edge(bindings: Partial<EdgeBindings> = {}) {
  const app = createEdgeApp({
    readHealth: async () => ({ source: 'static', reason: 'test', entries: [], readAt: 0 }),
  });
  const env: EdgeBindings = {
    REGIONS,
    SIM: '1',
    JWT_SECRET: 'demo-test-secret-0123456789-abcdefgh',
    ...bindings,
  };
  return (path: string) => app.request(`http://edge.test${path}`, {}, env);
}

describe('the demo page', () => {
  it('serves the page, its script and its style, with a CSP that allows only this host', async () => {
    const page = await edge()('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await page.text();
    expect(html).toContain('<script type="module" src="/demo/app.js">');
    expect(html).toContain('href="/demo/style.css"');

    const script = await edge()('/demo/app.js');
    expect(script.headers.get('content-type')).toContain('text/javascript');
    expect(await script.text()).toContain('RealtimeError');
    const style = await edge()('/demo/style.css');
    expect(style.headers.get('content-type')).toContain('text/css');
  });

  it('is served outside the simulation too, where /dev/token does not exist', async () => {
    const production = edge({ SIM: '0' });
    expect((await production('/')).status).toBe(200);
    expect((await production('/dev/token?sub=ada')).status).toBe(404);
    expect(await (await production('/healthz')).json()).toMatchObject({ sim: false });
  });
});
