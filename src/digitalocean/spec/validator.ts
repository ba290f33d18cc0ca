/**
 * OpenAPI conformance checker for DigitalOcean's API v2. It answers one question for
 * the emulator and the production client alike: does this request, or this response,
 * match DigitalOcean's own published description of the API? The description is large
 * (81k lines), so it is parsed on first use and each schema is compiled once and kept;
 * a missing description file is an error at construction, never a silent pass.
 * Schemas are checked with Ajv (plus ajv-formats); everything OpenAPI-specific that
 * Ajv does not know (operations, parameters, `$ref`s between responses) is resolved
 * here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule, { type FormatsPlugin } from 'ajv-formats';
import { parse } from 'yaml';
import { indexOperations, type MatchedOperation, matchOperation, type OperationIndex } from './operations.ts';

export type { MatchedOperation } from './operations.ts';

/** Where the copy of DigitalOcean's description that ships with berth lives. */
export const DEFAULT_SPEC_PATH = fileURLToPath(new URL('./digitalocean-openapi.yaml', import.meta.url));

export interface SpecRequest {
  method: string;
  /** The path, with or without a query string; the query string is ignored. */
  path: string;
  query?: Record<string, string | string[] | undefined>;
  headers?: Record<string, string | undefined>;
  /** The parsed JSON body, or undefined when the request has none. */
  body?: unknown;
}

export interface SpecResponse {
  method: string;
  path: string;
  status: number;
  headers?: Record<string, string | undefined>;
  /** The parsed JSON body, or undefined when the response has none. */
  body?: unknown;
}

/** One way in which a request or response departs from the description. */
export interface SpecError {
  /** What was checked, e.g. `request.body/droplet/name` or `response.header.ratelimit-limit`. */
  location: string;
  message: string;
}

export interface SpecValidator {
  validateRequest(request: SpecRequest): SpecError[];
  validateResponse(response: SpecResponse): SpecError[];
  /** The operation a method and path belong to, or undefined when the description has none. */
  findOperation(method: string, path: string): MatchedOperation | undefined;
}

type Json = Record<string, unknown>;

const SCHEMA_ID = 'digitalocean-openapi.json';
const MAX_ERRORS = 20;

/**
 * Builds a validator over the description at `specPath`. The file must exist now;
 * it is read and parsed on the first validation so that creating a validator costs
 * nothing for callers who never use it.
 */
export function createSpecValidator(specPath: string = DEFAULT_SPEC_PATH): SpecValidator {
  if (!existsSync(specPath)) {
    throw new Error(`DigitalOcean OpenAPI description not found at ${specPath}`);
  }
  let built: Built | undefined;
  const get = (): Built => {
    built ??= build(specPath);
    return built;
  };
  return {
    validateRequest: (request) => checkRequest(get(), request),
    validateResponse: (response) => checkResponse(get(), response),
    findOperation: (method, path) => matchOperation(get().index, method, path),
  };
}

interface Built {
  doc: Json;
  ajv: Ajv;
  index: OperationIndex;
  compiled: Map<string, ValidateFunction>;
}

function build(specPath: string): Built {
  const doc = parse(readFileSync(specPath, 'utf8')) as Json;
  // strict: false because the description carries OpenAPI-only keywords (example,
  // discriminator, x-*) that are documentation, not constraints.
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  const addFormats = ((addFormatsModule as unknown as { default?: FormatsPlugin }).default ??
    addFormatsModule) as FormatsPlugin;
  addFormats(ajv);
  // OpenAPI's numeric formats only describe width; JSON numbers satisfy them all.
  for (const format of ['float', 'double', 'int32', 'int64']) ajv.addFormat(format, true);
  ajv.addSchema(doc, SCHEMA_ID);
  return { doc, ajv, index: indexOperations(doc), compiled: new Map() };
}

/** Follows `$ref`s between non-schema objects (responses, parameters) and returns the target and its pointer. */
function resolve(built: Built, node: unknown, pointer: string): { node: Json; pointer: string } {
  let current = node as Json;
  let at = pointer;
  for (let hops = 0; typeof current?.$ref === 'string' && hops < 10; hops++) {
    at = (current.$ref as string).replace(/^#/, '');
    current = at
      .split('/')
      .slice(1)
      .reduce<unknown>(
        (obj, part) => (obj as Json)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')],
        built.doc,
      ) as Json;
  }
  return { node: current, pointer: at };
}

const escapePointer = (part: string): string => part.replace(/~/g, '~0').replace(/\//g, '~1');

function validatorAt(built: Built, pointer: string): ValidateFunction {
  let fn = built.compiled.get(pointer);
  if (!fn) {
    fn = built.ajv.compile({ $ref: `${SCHEMA_ID}#${pointer}` });
    built.compiled.set(pointer, fn);
  }
  return fn;
}

function ajvErrors(prefix: string, errors: ErrorObject[] | null | undefined): SpecError[] {
  return (errors ?? []).slice(0, MAX_ERRORS).map((e) => ({
    location: `${prefix}${e.instancePath}`,
    message: `${e.message ?? 'is invalid'}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''}`,
  }));
}

/** Query and path values arrive as strings; accept them if any sensible reading of them fits the schema. */
function checkParameterValue(fn: ValidateFunction, raw: string): boolean {
  const readings: unknown[] = [raw];
  if (/^-?\d+(\.\d+)?$/.test(raw)) readings.push(Number(raw));
  if (raw === 'true' || raw === 'false') readings.push(raw === 'true');
  return readings.some((value) => fn(value));
}

function checkRequest(built: Built, request: SpecRequest): SpecError[] {
  const op = matchOperation(built.index, request.method, request.path);
  if (!op) {
    return [{ location: 'request', message: `no operation ${request.method.toUpperCase()} ${request.path}` }];
  }
  const errors: SpecError[] = [];
  const operation = op.operation as Json;
  const pathItem = op.pathItem as Json;
  const params = [
    ...((pathItem.parameters as unknown[]) ?? []).map((p, i) =>
      resolve(built, p, `${op.pointer}/parameters/${i}`),
    ),
    ...((operation.parameters as unknown[]) ?? []).map((p, i) =>
      resolve(built, p, `${op.pointer}/${op.method}/parameters/${i}`),
    ),
  ];
  for (const { node: param, pointer } of params) {
    const name = param.name as string;
    let raw: string | string[] | undefined;
    if (param.in === 'path') raw = op.params[name];
    else if (param.in === 'query') raw = request.query?.[name];
    else if (param.in === 'header') raw = lowerKeys(request.headers)[name.toLowerCase()];
    else continue;
    if (raw === undefined) {
      if (param.required) errors.push({ location: `request.${param.in}.${name}`, message: 'is required' });
      continue;
    }
    if (!param.schema) continue;
    const fn = validatorAt(built, `${pointer}/schema`);
    for (const value of Array.isArray(raw) ? raw : [raw]) {
      if (!checkParameterValue(fn, value)) {
        errors.push(...ajvErrors(`request.${param.in}.${name}`, fn.errors));
      }
    }
  }
  if (Array.isArray(operation.security) && operation.security.length > 0) {
    const auth = lowerKeys(request.headers).authorization;
    if (!auth || !/^Bearer \S+$/.test(auth)) {
      errors.push({ location: 'request.header.authorization', message: 'a bearer token is required' });
    }
  }
  errors.push(...checkRequestBody(built, op, request.body));
  return errors;
}

function checkRequestBody(built: Built, op: MatchedOperation, body: unknown): SpecError[] {
  const declared = (op.operation as Json).requestBody;
  if (!declared) {
    return body === undefined ? [] : [{ location: 'request.body', message: 'this operation takes no body' }];
  }
  const { node: requestBody, pointer } = resolve(built, declared, `${op.pointer}/${op.method}/requestBody`);
  if (body === undefined) {
    return requestBody.required ? [{ location: 'request.body', message: 'a body is required' }] : [];
  }
  const content = requestBody.content as Json | undefined;
  if (!content?.['application/json']) return [];
  const fn = validatorAt(built, `${pointer}/content/${escapePointer('application/json')}/schema`);
  return fn(body) ? [] : ajvErrors('request.body', fn.errors);
}

function checkResponse(built: Built, response: SpecResponse): SpecError[] {
  const op = matchOperation(built.index, response.method, response.path);
  if (!op) {
    return [
      { location: 'response', message: `no operation ${response.method.toUpperCase()} ${response.path}` },
    ];
  }
  const responses = ((op.operation as Json).responses ?? {}) as Json;
  const status = String(response.status);
  const key = [status, `${status[0]}XX`, 'default'].find((k) => k in responses);
  if (!key) {
    return [
      { location: 'response.status', message: `status ${status} is not documented for ${op.operationId}` },
    ];
  }
  const { node: described, pointer } = resolve(
    built,
    responses[key],
    `${op.pointer}/${op.method}/responses/${escapePointer(key)}`,
  );
  const errors: SpecError[] = [];
  const headers = lowerKeys(response.headers);
  for (const [name, header] of Object.entries((described.headers ?? {}) as Json)) {
    const raw = headers[name.toLowerCase()];
    if (raw === undefined) continue;
    const { pointer: headerPointer } = resolve(built, header, `${pointer}/headers/${escapePointer(name)}`);
    const fn = validatorAt(built, `${headerPointer}/schema`);
    if (!checkParameterValue(fn, raw)) errors.push(...ajvErrors(`response.header.${name}`, fn.errors));
  }
  const content = described.content as Json | undefined;
  const json = content?.['application/json'] as Json | undefined;
  if (!json) {
    if (response.body !== undefined && response.body !== '') {
      errors.push({ location: 'response.body', message: `status ${status} is documented without a body` });
    }
    return errors;
  }
  if (response.body === undefined) {
    errors.push({ location: 'response.body', message: 'a JSON body is required' });
    return errors;
  }
  if (json.schema) {
    const fn = validatorAt(built, `${pointer}/content/${escapePointer('application/json')}/schema`);
    if (!fn(response.body)) errors.push(...ajvErrors('response.body', fn.errors));
  }
  return errors;
}

function lowerKeys(
  headers: Record<string, string | undefined> | undefined,
): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(headers ?? {})) out[k.toLowerCase()] = v;
  return out;
}
