/**
 * The API documentation page at `/api/docs`: a small, self-contained page that fetches
 * `/api/openapi.json` and renders every operation with its parameters, body and answers.
 * Nothing is loaded from elsewhere (berth may run where no CDN is reachable), the script
 * and style are served by berth itself under a strict CSP, and the document's text is
 * only ever set as text, never as markup.
 */

export const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>berth API</title>
<link rel="stylesheet" href="/api/docs/docs.css">
<script src="/api/docs/docs.js" defer></script>
</head>
<body>
<header><h1 id="title">berth API</h1><p id="description"></p>
<p><a href="/api/openapi.json">OpenAPI document (JSON)</a></p></header>
<main id="operations"><p>Loading the OpenAPI document…</p></main>
</body>
</html>
`;

export const DOCS_CSS = `
body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 60rem; padding: 1rem 2rem; color: #1d232a; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 0.3rem; margin-top: 2.5rem; }
details { border: 1px solid #d0d7de; border-radius: 6px; margin: 0.6rem 0; padding: 0.4rem 0.8rem; }
summary { cursor: pointer; font-family: ui-monospace, monospace; }
.method { display: inline-block; min-width: 4.5rem; font-weight: 700; text-transform: uppercase; }
.get { color: #0969da; } .post { color: #1a7f37; } .delete { color: #cf222e; }
.summary { font-family: system-ui, sans-serif; color: #57606a; margin-left: 0.6rem; }
pre { background: #f6f8fa; padding: 0.6rem; overflow-x: auto; font-size: 13px; }
table { border-collapse: collapse; } td, th { text-align: left; padding: 0.2rem 0.8rem 0.2rem 0; vertical-align: top; }
.lock { color: #9a6700; font-size: 13px; }
`;

export const DOCS_JS = `
'use strict';
(async function () {
  const el = (tag, props, ...children) => {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return node;
  };
  const main = document.getElementById('operations');
  let doc;
  try {
    doc = await (await fetch('/api/openapi.json')).json();
  } catch (error) {
    main.replaceChildren(el('p', {}, 'Could not load the OpenAPI document: ' + error));
    return;
  }
  document.getElementById('title').textContent = doc.info.title + ' ' + doc.info.version;
  document.getElementById('description').textContent = doc.info.description || '';
  const schemas = (doc.components && doc.components.schemas) || {};
  const resolve = (schema) => (schema && schema.$ref ? schemas[schema.$ref.split('/').pop()] || {} : schema || {});
  const typeOf = (schema, depth, seen) => {
    const name = schema && schema.$ref ? schema.$ref.split('/').pop() : null;
    const s = resolve(schema);
    const pad = '  '.repeat(depth + 1);
    if (name && seen.includes(name)) return name;
    const next = name ? seen.concat(name) : seen;
    if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
    if (s.const !== undefined) return JSON.stringify(s.const);
    if (s.anyOf || s.oneOf) return (s.anyOf || s.oneOf).map((x) => typeOf(x, depth, next)).join(' | ');
    const types = [].concat(s.type || 'any');
    if (types.includes('object') && s.properties) {
      const required = s.required || [];
      const lines = Object.entries(s.properties).map(
        ([key, value]) => pad + key + (required.includes(key) ? '' : '?') + ': ' + typeOf(value, depth + 1, next),
      );
      return '{\\n' + lines.join('\\n') + '\\n' + '  '.repeat(depth) + '}';
    }
    if (types.includes('array')) return typeOf(s.items, depth, next) + '[]';
    return types.join(' | ') + (s.format ? ' (' + s.format + ')' : '');
  };
  const byTag = new Map();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags && op.tags[0]) || 'Other';
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push({ path, method, op });
    }
  }
  const sections = [];
  for (const [tag, ops] of byTag) {
    sections.push(el('h2', {}, tag));
    for (const { path, method, op } of ops) {
      const body = [];
      if (op.description) body.push(el('p', {}, op.description));
      if (op.security && op.security.length) body.push(el('p', { className: 'lock' }, 'Requires a bearer access token.'));
      const params = op.parameters || [];
      if (params.length) {
        body.push(el('h4', {}, 'Parameters'));
        body.push(el('table', {}, ...params.map((p) => el('tr', {}, el('td', {}, p.in + ' ' + p.name + (p.required ? '' : '?')), el('td', {}, typeOf(p.schema, 0, []))))));
      }
      const content = op.requestBody && op.requestBody.content;
      if (content) {
        for (const [type, media] of Object.entries(content)) {
          body.push(el('h4', {}, 'Request body (' + type + ')'), el('pre', {}, typeOf(media.schema, 0, [])));
        }
      }
      body.push(el('h4', {}, 'Responses'));
      for (const [status, response] of Object.entries(op.responses || {})) {
        body.push(el('p', {}, el('strong', {}, status), ' ', response.description || ''));
        for (const [type, media] of Object.entries(response.content || {})) {
          if (type === 'application/problem+json') continue;
          body.push(el('pre', {}, type + ': ' + typeOf(media.schema, 0, [])));
        }
      }
      const summary = el('summary', {}, el('span', { className: 'method ' + method }, method), path, el('span', { className: 'summary' }, op.summary || ''));
      sections.push(el('details', {}, summary, ...body));
    }
  }
  sections.push(el('h2', {}, 'Errors'), el('p', {}, 'Every error is application/problem+json (RFC 9457):'), el('pre', {}, typeOf({ $ref: '#/components/schemas/Problem' }, 0, [])));
  main.replaceChildren(...sections);
})();
`;
