/**
 * `GET /`: the dashboard, served by the portable core on every runtime. Loading it needs no
 * auth (it holds no data; the data routes need the admin token). The policy below lets the
 * page load and talk to this hub only: no CDN, font or script from anywhere else can run.
 */
import { Hono } from 'hono'
import { DASHBOARD_HTML } from './page.ts'
import { DASHBOARD_CSS } from './style.ts'
import { ACCESS_CSS } from './access-style.ts'
import { staticAsset } from './asset.ts'
// Bundled from ./browser/ at build time (scripts/build-dashboard.ts, `npm install`); not committed.
import { DASHBOARD_JS } from './browser-script.generated.ts'

export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

const COMMON_HEADERS = {
  'content-security-policy': DASHBOARD_CSP,
  'x-content-type-options': 'nosniff',
  // The CSP's frame-ancestors says the same to browsers that read it; this to older ones.
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
  // Served from memory with an ETag (asset.ts): always revalidate, so a new hub version is seen
  // at once, and an unchanged file costs a 304.
  'cache-control': 'no-cache',
}

export function dashboardRoutes() {
  const asset = (body: string, type: string) => staticAsset(body, { ...COMMON_HEADERS, 'content-type': type })
  return new Hono()
    .get('/', asset(DASHBOARD_HTML, 'text/html; charset=utf-8'))
    .get('/dashboard.js', asset(DASHBOARD_JS, 'text/javascript; charset=utf-8'))
    .get('/dashboard.css', asset(DASHBOARD_CSS + ACCESS_CSS, 'text/css; charset=utf-8'))
}
