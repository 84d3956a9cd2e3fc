// String templates of the provider catalog: `${connectionConfig.subdomain}`, `${apiKey}`,
// `${credentials.username}`, `${base64(${credentials.username}:${credentials.password})}`,
// and the base-URL fallback `A || B`. Compiled once per template string; rendering is pure.

export type TemplateValues = Record<string, unknown>;

export interface Rendered {
  text: string;
  /** false when a placeholder had no value; its `${...}` text is then left in place. */
  complete: boolean;
}

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'path'; path: string[]; source: string }
  | { kind: 'call'; fn: string; args: Node[]; source: string };

const FUNCTIONS: Record<string, (arg: string) => string> = {
  base64: (arg) => Buffer.from(arg, 'utf8').toString('base64'),
};

export interface Template {
  readonly source: string;
  render(values: TemplateValues): Rendered;
}

const compiled = new Map<string, Template>();

/** Compiles (and memoises) a template. Templates come from the catalog, so the cache is bounded. */
export function compileTemplate(source: string): Template {
  let template = compiled.get(source);
  if (template === undefined) {
    template = buildTemplate(source);
    if (compiled.size < 10_000) compiled.set(source, template);
  }
  return template;
}

export function renderTemplate(source: string, values: TemplateValues): Rendered {
  return compileTemplate(source).render(values);
}

function buildTemplate(source: string): Template {
  // `A || B` (Nango's base-URL fallback): A when all its placeholders resolve, otherwise B.
  if (source.includes('${') && source.includes('||')) {
    const alternatives = source.split('||').map((part) => compileNodes(part.trim()));
    return {
      source,
      render(values) {
        let last: Rendered = { text: '', complete: false };
        for (const nodes of alternatives) {
          last = renderNodes(nodes, values);
          if (last.complete) return last;
        }
        return last;
      },
    };
  }
  const nodes = compileNodes(source);
  if (nodes.length === 1 && nodes[0]?.kind === 'text') {
    const fixed: Rendered = { text: source, complete: true };
    return { source, render: () => fixed };
  }
  return { source, render: (values) => renderNodes(nodes, values) };
}

function compileNodes(source: string): Node[] {
  const nodes: Node[] = [];
  let index = 0;
  while (index < source.length) {
    const start = source.indexOf('${', index);
    if (start === -1) {
      nodes.push({ kind: 'text', text: source.slice(index) });
      break;
    }
    const end = findClosingBrace(source, start + 2);
    if (end === -1) {
      nodes.push({ kind: 'text', text: source.slice(index) });
      break;
    }
    if (start > index) nodes.push({ kind: 'text', text: source.slice(index, start) });
    nodes.push(compileExpression(source.slice(start + 2, end).trim(), source.slice(start, end + 1)));
    index = end + 1;
  }
  return nodes;
}

function findClosingBrace(source: string, from: number): number {
  let depth = 1;
  for (let i = from; i < source.length; i++) {
    if (source[i] === '$' && source[i + 1] === '{') {
      depth++;
      i++;
    } else if (source[i] === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

function compileExpression(expression: string, source: string): Node {
  const call = /^([A-Za-z_][A-Za-z0-9_]*)\(([\s\S]*)\)$/.exec(expression);
  if (call && call[1] !== undefined && call[2] !== undefined && FUNCTIONS[call[1]] !== undefined) {
    return { kind: 'call', fn: call[1], args: compileNodes(call[2]), source };
  }
  // Nango writes both `connectionConfig.x` and `connection_config.x`.
  const path = expression.replace(/^connection_config\./, 'connectionConfig.').split('.');
  return { kind: 'path', path, source };
}

function renderNodes(nodes: Node[], values: TemplateValues): Rendered {
  let text = '';
  let complete = true;
  for (const node of nodes) {
    if (node.kind === 'text') {
      text += node.text;
    } else if (node.kind === 'path') {
      const value = lookup(values, node.path);
      if (value === undefined) {
        complete = false;
        text += node.source;
      } else {
        text += value;
      }
    } else {
      const arg = renderNodes(node.args, values);
      if (!arg.complete) {
        complete = false;
        text += node.source;
      } else {
        text += (FUNCTIONS[node.fn] as (arg: string) => string)(arg.text);
      }
    }
  }
  return { text, complete };
}

function lookup(values: TemplateValues, path: string[]): string | undefined {
  let current: unknown = values;
  for (const key of path) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  if (current === undefined || current === null) return undefined;
  if (typeof current === 'string') return current;
  if (typeof current === 'number' || typeof current === 'boolean') return String(current);
  return undefined;
}
