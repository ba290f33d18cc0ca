/**
 * Finds which operation of an OpenAPI description a concrete method and path belong
 * to. Paths are templates (`/v2/droplets/{droplet_id}`); when several match, the one
 * with more literal segments wins, so `/v2/droplets/actions` is never mistaken for a
 * droplet whose id is "actions".
 */

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

interface IndexedPath {
  template: string;
  pattern: RegExp;
  names: string[];
  literals: number;
  pathItem: Record<string, unknown>;
}

export interface OperationIndex {
  paths: IndexedPath[];
}

export interface MatchedOperation {
  operationId: string;
  method: string;
  template: string;
  /** JSON pointer to the path item, e.g. `/paths/~1v2~1droplets`. */
  pointer: string;
  params: Record<string, string>;
  pathItem: unknown;
  operation: unknown;
}

export function indexOperations(doc: Record<string, unknown>): OperationIndex {
  const paths: IndexedPath[] = [];
  for (const [template, pathItem] of Object.entries((doc.paths ?? {}) as Record<string, unknown>)) {
    const names: string[] = [];
    const segments = template.split('/').filter(Boolean);
    const source = segments
      .map((segment) =>
        segment.replace(/\{([^}]+)\}|[^{]+/g, (whole, name: string | undefined) => {
          if (name) {
            names.push(name);
            return '([^/]+)';
          }
          return whole.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
        }),
      )
      .join('/');
    paths.push({
      template,
      pattern: new RegExp(`^/${source}/?$`),
      names,
      literals: segments.filter((s) => !s.includes('{')).length,
      pathItem: pathItem as Record<string, unknown>,
    });
  }
  // Most specific first, so the first match is the right one.
  paths.sort((a, b) => b.literals - a.literals);
  return { paths };
}

export function matchOperation(
  index: OperationIndex,
  method: string,
  rawPath: string,
): MatchedOperation | undefined {
  const verb = method.toLowerCase();
  if (!(METHODS as readonly string[]).includes(verb)) return undefined;
  const path = rawPath.split('?')[0] ?? rawPath;
  for (const entry of index.paths) {
    const match = entry.pattern.exec(path);
    if (!match) continue;
    const operation = entry.pathItem[verb] as Record<string, unknown> | undefined;
    if (!operation) continue;
    const params: Record<string, string> = {};
    entry.names.forEach((name, i) => {
      params[name] = decodeURIComponent(match[i + 1] ?? '');
    });
    return {
      operationId: String(operation.operationId ?? `${verb} ${entry.template}`),
      method: verb,
      template: entry.template,
      pointer: `/paths/${entry.template.replace(/~/g, '~0').replace(/\//g, '~1')}`,
      params,
      pathItem: entry.pathItem,
      operation,
    };
  }
  return undefined;
}
