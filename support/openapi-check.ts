/**
 * Holds answers to the OpenAPI document the hub serves: for a method, a concrete path, a status
 * and a body, the schema the document declares for that answer (its status, else `2XX` or
 * `default`), checked with ajv (JSON Schema 2020-12, as OpenAPI 3.1 uses it).
 */
import { Ajv2020 } from 'ajv/dist/2020.js'

export interface Answer {
  method: string
  path: string
  status: number
  body: unknown
}

export interface AnswerChecker {
  /** Why the answer does not fit the document, or null when it does. */
  check(answer: Answer): string | null
  /**
   * Why an event of the stream at `path` does not fit the schema the document declares for its
   * data (the 200 answer's `x-events`), or null when it does or none is declared for it.
   */
  checkEvent(path: string, event: string, data: unknown): string | null
  /** The document's path template for a concrete path, or null when it has none. */
  templateOf(method: string, path: string): string | null
}

const DOC_ID = 'https://agentcom.invalid/openapi.json'

export function createAnswerChecker(doc: { paths: Record<string, Record<string, any>> }): AnswerChecker {
  // strict off: the document holds OpenAPI's own keywords (paths, responses, ...) around the schemas.
  const ajv = new Ajv2020({ strict: false, allErrors: true })
  ajv.addSchema({ ...doc, $id: DOC_ID })
  const templates = Object.keys(doc.paths).map((template) => ({
    template,
    pattern: new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`),
  }))
  const templateOf = (method: string, path: string) =>
    templates.find((t) => t.pattern.test(path.split('?')[0]) && doc.paths[t.template][method.toLowerCase()])?.template ?? null
  return {
    templateOf,
    checkEvent(path, event, data) {
      const template = templateOf('GET', path)
      if (!template) return `GET ${path}: not in the document`
      if (!doc.paths[template].get.responses['200']['x-events']?.[event]) return null
      const ref = `${DOC_ID}#/${pointerOf(['paths', template, 'get', 'responses', '200', 'x-events', event])}`
      const validate = ajv.getSchema(ref) ?? ajv.compile({ $ref: ref })
      return validate(data) ? null : `event: ${event} of ${template}: ${ajv.errorsText(validate.errors)}`
    },
    check({ method, path, status, body }) {
      const template = templateOf(method, path)
      if (!template) return `${method} ${path}: not in the document`
      const responses = doc.paths[template][method.toLowerCase()].responses as Record<string, any>
      const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => responses[k])
      if (!key) return `${method} ${template} ${status}: no answer declared`
      const content = responses[key].content?.['application/json']
      if (!content) return `${method} ${template} ${status}: declared without a JSON body`
      const pointer = pointerOf(['paths', template, method.toLowerCase(), 'responses', key, 'content', 'application/json', 'schema'])
      const validate = ajv.getSchema(`${DOC_ID}#/${pointer}`) ?? ajv.compile({ $ref: `${DOC_ID}#/${pointer}` })
      return validate(body) ? null : `${method} ${template} ${status}: ${ajv.errorsText(validate.errors)}`
    },
  }
}

/** A JSON pointer (RFC 6901) to the document's part at `keys`. */
function pointerOf(keys: string[]): string {
  return keys.map((k) => k.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')
}
