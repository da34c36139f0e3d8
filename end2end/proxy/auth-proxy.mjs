// An authenticating reverse proxy in the manner of oauth2-proxy, for the `--auth header`
// tests: people sign in at /oauth2/sign_in, the proxy keeps who they are in a cookie of its
// own, and forwards every other request to the console with X-Forwarded-User and
// X-Forwarded-Groups set by itself (whatever the browser sent in those headers is dropped).
// It connects to the console from its own loopback address (PROXY_SOURCE_ADDR, e.g.
// 127.0.0.2), the only address the console believes identity headers from; a browser
// talking to the console directly comes from 127.0.0.1 and is refused.
//
//   PROXY_PORT=3106 PROXY_SOURCE_ADDR=127.0.0.2 UPSTREAM=http://127.0.0.1:3104 node proxy/auth-proxy.mjs
import * as crypto from 'crypto';
import * as http from 'http';

const port = Number(process.env.PROXY_PORT ?? 3106);
const source = process.env.PROXY_SOURCE_ADDR ?? '127.0.0.2';
const upstream = new URL(process.env.UPSTREAM ?? 'http://127.0.0.1:3104');

// The proxy's users and their groups (an identity provider's directory, in short).
const GROUPS = { alice: ['release-managers'], bob: ['developers'] };
// Sessions: random id -> user. The console never sees this cookie's meaning.
const sessions = new Map();
const COOKIE = '_oauth2_proxy';

function sessionUser(req) {
  const cookies = (req.headers.cookie ?? '').split(';').map((c) => c.trim());
  const id = cookies.find((c) => c.startsWith(`${COOKIE}=`))?.slice(COOKIE.length + 1);
  return id ? sessions.get(id) : undefined;
}

function signInPage(res, next, error) {
  res.writeHead(error ? 401 : 200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><title>Sign in (proxy)</title>
<h1>Organisation sign-in</h1>
${error ? `<p role="alert">${error}</p>` : ''}
<form method="post" action="/oauth2/sign_in">
  <input type="hidden" name="rd" value="${encodeURIComponent(next)}">
  <label>User <input name="username" autocomplete="off"></label>
  <button type="submit">Sign in</button>
</form>`);
}

function readBody(req) {
  return new Promise((resolve) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => resolve(body));
  });
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, `http://${req.headers.host}`);
  if (url.pathname === '/oauth2/sign_in') {
    if (req.method !== 'POST') return signInPage(res, url.searchParams.get('rd') ?? '/');
    const form = new URLSearchParams(await readBody(req));
    const user = form.get('username') ?? '';
    const next = decodeURIComponent(form.get('rd') ?? '/');
    if (!GROUPS[user]) return signInPage(res, next, `Unknown user "${user}".`);
    const id = crypto.randomBytes(16).toString('hex');
    sessions.set(id, user);
    res.writeHead(303, {
      location: next.startsWith('/') && !next.startsWith('//') ? next : '/',
      'set-cookie': `${COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax`,
    });
    return res.end();
  }
  if (url.pathname === '/oauth2/sign_out') {
    const cookies = (req.headers.cookie ?? '').split(';').map((c) => c.trim());
    const id = cookies.find((c) => c.startsWith(`${COOKIE}=`))?.slice(COOKIE.length + 1);
    if (id) sessions.delete(id);
    res.writeHead(303, {
      location: '/oauth2/sign_in?signed_out=1',
      'set-cookie': `${COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax`,
    });
    return res.end();
  }
  const user = sessionUser(req);
  if (!user) {
    res.writeHead(302, { location: `/oauth2/sign_in?rd=${encodeURIComponent(req.url)}` });
    return res.end();
  }
  const headers = { ...req.headers };
  for (const h of Object.keys(headers)) {
    if (h.startsWith('x-forwarded-')) delete headers[h];
  }
  headers['x-forwarded-user'] = user;
  headers['x-forwarded-groups'] = GROUPS[user].join(',');
  const forward = http.request(
    {
      host: upstream.hostname,
      port: upstream.port,
      localAddress: source,
      method: req.method,
      path: req.url,
      headers,
    },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  forward.on('error', (e) => {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`proxy: ${e.message}`);
  });
  req.pipe(forward);
});

server.listen(port, '127.0.0.1', () => {
  console.log(`auth proxy on http://127.0.0.1:${port} -> ${upstream.href} (from ${source})`);
});
